"""A/B (branch featinc): int_customer_daily_activity's full-build SQL with its final aggregate as
is (A) vs summing INTEGER / DECIMAL(18, 2) inputs (B), alternating in one process on a built
database; prints wall and CPU seconds per run and which columns differ.

The SQL: `dbt compile --full-refresh --select int_customer_daily_activity` with CHURNWATCH_DB
set to the database, then target/compiled/.../int_customer_daily_activity.sql (its "<db>".
prefix is stripped).

Example:
  python bench/ab_daily_sum_types.py --sql /tmp/featinc/daily_full.sql \
      --db /tmp/featinc/b20k/full.duckdb
"""

import argparse
import re
import time
from pathlib import Path

import duckdb


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sql", type=Path, required=True, help="Compiled full-build SQL.")
    ap.add_argument("--db", type=Path, required=True, help="A built churnwatch database.")
    ap.add_argument("--repeat", type=int, default=3, help="Runs of each variant (default 3).")
    args = ap.parse_args()
    a = re.sub(r'"[^"]+"\.("staging")', r"\1", args.sql.read_text())
    b = re.sub(r"coalesce\(sum\((\w+)\), 0\)::bigint", r"coalesce(sum(\1::integer), 0)::bigint", a)
    b = re.sub(
        r"coalesce\(sum\((spend|discount)\), 0\)::decimal\(18, 2\)",
        r"coalesce(sum(\1::decimal(18, 2)), 0)::decimal(18, 2)",
        b,
    )
    assert a != b
    con = duckdb.connect(
        str(args.db), read_only=True, config={"threads": 2, "memory_limit": "8GB"}
    )
    for rep in range(args.repeat):
        for name, q in (("A", a), ("B", b)):
            t, c = time.perf_counter(), time.process_time()
            con.execute(f"create or replace temp table t_{name} as {q}")
            print(
                name,
                rep,
                f"wall {time.perf_counter() - t:.2f} s cpu {time.process_time() - c:.2f} s",
            )
    cols = [c for c in con.sql("select * from t_A limit 0").columns]
    for col in cols:
        n = con.sql(
            f"select count(*) from t_A a full join t_B b using (customer_id, activity_date) "
            f"where a.{col} is distinct from b.{col}"
        ).fetchall()[0][0]
        if n:
            print(f"{col}: {n} rows differ")


if __name__ == "__main__":
    main()
