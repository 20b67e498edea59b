"""Convert the CDNOW master file into the raw-data contract (orders only).

CDNOW_master.txt is whitespace-separated with a header line:
`customer_id date number_of_cds dollar_value`, ids zero-padded, dates YYYYMMDD. Each line is one
purchase; a customer can buy several times on one day, so the order id is
`<customer_id>-<date>-<n>` with n counting that day's purchases in file order.
"""

from __future__ import annotations

from pathlib import Path

import duckdb


class PrepareError(RuntimeError):
    """The input file is not a CDNOW master file."""


def prepare_cdnow(master_file: Path | str, out_dir: Path | str) -> Path:
    """Write `<out_dir>/orders.csv` from the CDNOW master file and return its path.

    Raises:
        PrepareError: when a line does not have the four CDNOW fields (names the line).
    """
    master_file = Path(master_file)
    out_dir = Path(out_dir)
    if not master_file.is_file():
        raise PrepareError(f"{master_file}: no such file (expected CDNOW_master.txt).")
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / "orders.csv"
    con = duckdb.connect()
    try:
        con.execute(
            "create temp table lines as select row_number() over () + 1 as line_no, "
            "string_split(trim(column0), ' ') as parts from read_csv(?, header = true, "
            "delim = '\\0', columns = {'column0': 'varchar'}, quote = '', escape = '')",
            [str(master_file)],
        )
        con.execute(
            "create temp table fields as select line_no, "
            "list_filter(parts, lambda p: p <> '') as f from lines"
        )
        bad = con.sql("select line_no from fields where len(f) <> 4 order by 1 limit 1").fetchall()
        if bad:
            raise PrepareError(
                f"{master_file}: line {bad[0][0]} does not have the four CDNOW fields "
                "(customer_id, date, number_of_cds, dollar_value)."
            )
        con.execute(
            f"""
            copy (
                select
                    f[1] || '-' || f[2] || '-' ||
                        row_number() over (partition by f[1], f[2] order by line_no) as order_id,
                    f[1] as customer_id,
                    strftime(strptime(f[2], '%Y%m%d'), '%Y-%m-%d') as ordered_at,
                    f[4] as amount,
                    'completed' as status
                from fields
                order by line_no
            ) to '{out}' (header, delimiter ',')
            """
        )
    finally:
        con.close()
    return out
