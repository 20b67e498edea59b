"""Load a shop's raw files into the `raw` schema of a DuckDB database.

Ingestion only reads and checks the *shape* of the input: which files exist, whether they can be
read, whether the required columns are there. It then exposes every record as `raw.<entity>`
(contract columns only, plus `_source_file` and `_source_row`): a view straight over the file,
no copy (a CSV is read as text; one scan at ingest counts its records and keeps every line
DuckDB cannot parse in `raw._csv_rejects`). The raw views read the files when staging runs, so
the files must stay in place until the run ends. Typing, cleaning, rejection and de-duplication
are the dbt staging layer's job (dbt_project/models/staging), so that every rule is SQL analysts
can read.

A problem with the shape of the input stops the run with an `IngestError` naming the file and the
column; problems with single rows never stop the run, they are quarantined by staging.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path

import duckdb

from churnwatch.contract import ENTITIES, FILE_SUFFIXES, Entity

log = logging.getLogger(__name__)

RAW_SCHEMA = "raw"


class IngestError(RuntimeError):
    """The input cannot be ingested; the message says which file and column, and what to do."""


@dataclass(frozen=True)
class EntityLoad:
    """What ingestion did with one entity."""

    entity: str
    source_file: str | None
    file_format: str | None
    rows_parsed: int
    lines_malformed: int
    note: str = ""

    @property
    def rows_read(self) -> int:
        return self.rows_parsed + self.lines_malformed


def find_entity_file(data_dir: Path, entity: Entity) -> Path | None:
    """Return the one file holding `entity` in `data_dir`, or None when there is none.

    Raises:
        IngestError: when several files claim the same entity.
    """
    found = [data_dir / f"{entity.name}{suffix}" for suffix in FILE_SUFFIXES]
    found = [p for p in found if p.exists()]
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise IngestError(
            f"{data_dir}: several files for entity '{entity.name}' ({names}); keep exactly one."
        )
    return found[0] if found else None


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _file_format(path: Path) -> str:
    return "parquet" if path.name.endswith(".parquet") else "csv"


def _reader_sql(path: Path, fmt: str, *, rejects: str | None = None) -> str:
    if fmt == "parquet":
        return f"read_parquet({_sql_str(str(path))})"
    # The contract's CSV is RFC 4180 (comma, double quotes); fixing the dialect keeps a few
    # malformed lines from confusing DuckDB's sniffer. Unparseable lines go to a rejects table.
    options = "all_varchar = true, header = true, delim = ',', quote = '\"', escape = '\"'"
    if rejects:
        options += f", store_rejects = true, rejects_table = '{rejects}_errors'"
        options += f", rejects_scan = '{rejects}_scans'"
    else:
        options += ", ignore_errors = true"
    return f"read_csv({_sql_str(str(path))}, {options})"


def _scalar(con: duckdb.DuckDBPyConnection, query: str) -> int:
    return int(con.execute(query).fetchall()[0][0])


def _normalise_name(name: str) -> str:
    return name.strip().lower().replace(" ", "_")


def _file_columns(con: duckdb.DuckDBPyConnection, path: Path, fmt: str) -> list[str]:
    try:
        rows = con.sql(f"describe select * from {_reader_sql(path, fmt)}").fetchall()
    except duckdb.Error as exc:
        what = "a Parquet file" if fmt == "parquet" else "a CSV file"
        raise IngestError(
            f"{path}: cannot be read as {what} ({exc.__class__.__name__}: "
            f"{str(exc).splitlines()[0]}). Check that the file is complete and that its "
            f"extension matches its content."
        ) from exc
    return [r[0] for r in rows]


def _drop_raw(con: duckdb.DuckDBPyConnection, entity: Entity) -> None:
    """Drop what an earlier load left for `entity` (a view or a table: DuckDB's `drop view if
    exists` fails on a table of that name, so look the kind up first)."""
    for name in (entity.name, f"_{entity.name}_rows"):
        kinds = con.execute(
            "select 'view' from duckdb_views() where schema_name = ? and view_name = ? "
            "union all "
            "select 'table' from duckdb_tables() where schema_name = ? and table_name = ?",
            [RAW_SCHEMA, name, RAW_SCHEMA, name],
        ).fetchall()
        for (kind,) in kinds:
            con.execute(f"drop {kind} {RAW_SCHEMA}.{name}")


def _empty_table(con: duckdb.DuckDBPyConnection, entity: Entity) -> None:
    cols = ", ".join(f"cast(null as varchar) as {c}" for c in entity.column_names)
    _drop_raw(con, entity)
    con.execute(
        f"create table {RAW_SCHEMA}.{entity.name} as select {cols}, "
        "cast(null as varchar) as _source_file, cast(null as bigint) as _source_row limit 0"
    )


def load_entity(con: duckdb.DuckDBPyConnection, data_dir: Path, entity: Entity) -> EntityLoad:
    """Load one entity's file into `raw.<entity>`; an absent optional entity becomes empty.

    Raises:
        IngestError: required file or column missing, unreadable file.
    """
    path = find_entity_file(data_dir, entity)
    if path is None:
        if entity.required:
            expected = " or ".join(f"{entity.name}{s}" for s in FILE_SUFFIXES)
            raise IngestError(
                f"{data_dir}: required entity '{entity.name}' is missing: expected {expected}. "
                f"See docs/data-contract.md."
            )
        _empty_table(con, entity)
        return EntityLoad(entity.name, None, None, 0, 0, note="absent: empty relation")

    if path.stat().st_size == 0:
        _empty_table(con, entity)
        return EntityLoad(entity.name, str(path), _file_format(path), 0, 0, note="empty file")

    fmt = _file_format(path)
    file_cols = _file_columns(con, path, fmt)
    by_norm: dict[str, str] = {}
    for col in file_cols:
        by_norm.setdefault(_normalise_name(col), col)
    missing = [c for c in entity.required_columns if c not in by_norm]
    if missing:
        raise IngestError(
            f"{path}: required column(s) {', '.join(missing)} missing "
            f"(found: {', '.join(file_cols) or 'none'}). See docs/data-contract.md."
        )

    select = []
    for col in entity.columns:
        if col.name in by_norm:
            select.append(f'"{by_norm[col.name]}" as {col.name}')
        else:
            select.append(f"cast(null as varchar) as {col.name}")
    rejects = f"_rej_{entity.name}" if fmt == "csv" else None
    _drop_raw(con, entity)
    columns = f"{', '.join(select)}, {_sql_str(str(path))} as _source_file"
    try:
        if fmt == "parquet":
            # Parquet is typed and seekable: staging reads the file through a view, no copy.
            # file_row_number is the record's 0-based position in the file.
            con.execute(
                f"create view {RAW_SCHEMA}.{entity.name} as select {columns}, "
                f"file_row_number + 1 as _source_row from "
                f"read_parquet({_sql_str(str(path))}, file_row_number = true)"
            )
        else:
            # CSV: one scan here finds the lines DuckDB cannot parse (kept in a rejects table)
            # and counts the records; staging then reads the file through a view, so the
            # records are written to the database once, typed, by staging (a text copy here
            # cost more than the bare read of the file: bench/RESULTS.md). The scan and the
            # view read the same columns with the same options, so they skip the same lines.
            # row_number() over () numbers the records in file order (insertion order is
            # preserved), as rowid did for the former table of records.
            scanned = ", ".join(select)
            hashed = ", ".join(entity.column_names)
            parsed = _scalar(
                con,
                # bit_xor(hash(...)) makes the scan read every column the view reads.
                f"select count(*), bit_xor(hash({hashed})) "
                f"from (select {scanned} from {_reader_sql(path, fmt, rejects=rejects)})",
            )
            con.execute(
                f"create view {RAW_SCHEMA}.{entity.name} as select {columns}, "
                f"row_number() over () as _source_row from {_reader_sql(path, fmt)}"
            )
    except duckdb.Error as exc:
        raise IngestError(
            f"{path}: reading failed ({exc.__class__.__name__}: {str(exc).splitlines()[0]}). "
            f"Check the file's encoding (UTF-8) and format."
        ) from exc

    malformed = 0
    if rejects:
        con.execute(
            f"""
            insert into {RAW_SCHEMA}._csv_rejects
            select
                {_sql_str(entity.name)} as entity,
                {_sql_str(str(path))} as source_file,
                line as source_line,
                string_agg(distinct error_type, '; ' order by error_type) as error_type,
                trim(any_value(csv_line), chr(10) || chr(13)) as csv_line
            from {rejects}_errors
            group by line
            """
        )
        malformed = _scalar(con, f"select count(distinct line) from {rejects}_errors")
        con.execute(f"drop table if exists {rejects}_errors")
        con.execute(f"drop table if exists {rejects}_scans")
    if fmt == "parquet":
        parsed = _scalar(con, f"select count(*) from {RAW_SCHEMA}.{entity.name}")
    return EntityLoad(entity.name, str(path), fmt, int(parsed), int(malformed))


def ingest(
    db_path: Path | str,
    data_dir: Path | str,
    *,
    load_time: dt.datetime | None = None,
) -> list[EntityLoad]:
    """Load every contract entity of `data_dir` into the `raw` schema of `db_path`.

    The raw schema is replaced as a whole, in one transaction: a failure leaves it as it was.

    Args:
        db_path: DuckDB database file (created when absent).
        data_dir: Directory with one `<entity>.parquet|csv|csv.gz` file per entity.
        load_time: The run's load time (UTC); rows stamped after it are rejected by staging.

    Returns:
        One `EntityLoad` per contract entity.

    Raises:
        IngestError: the input's shape is wrong (the message names file and column).
    """
    # Absolute: raw views over Parquet files are read later by dbt, from another directory.
    data_dir = Path(data_dir).resolve()
    if not data_dir.is_dir():
        raise IngestError(f"{data_dir}: no such data directory. Pass DATA_DIR=<folder of files>.")
    load_time = (load_time or dt.datetime.now(dt.UTC)).replace(tzinfo=None, microsecond=0)
    con = duckdb.connect(str(db_path))
    try:
        con.execute("set TimeZone = 'UTC'")
        con.execute("begin transaction")
        con.execute(f"create schema if not exists {RAW_SCHEMA}")
        con.execute(
            f"create or replace table {RAW_SCHEMA}._csv_rejects (entity varchar, "
            "source_file varchar, source_line bigint, error_type varchar, csv_line varchar)"
        )
        loads = [load_entity(con, data_dir, e) for e in ENTITIES]
        con.execute(
            f"create or replace table {RAW_SCHEMA}._ingest_run as select "
            f"cast({_sql_str(load_time.isoformat())} as timestamp) as loaded_at, "
            f"{_sql_str(str(data_dir.resolve()))} as data_dir"
        )
        con.execute(
            f"create or replace table {RAW_SCHEMA}._ingest_files (entity varchar, "
            "source_file varchar, file_format varchar, rows_parsed bigint, "
            "lines_malformed bigint, note varchar)"
        )
        con.executemany(
            f"insert into {RAW_SCHEMA}._ingest_files values (?, ?, ?, ?, ?, ?)",
            [
                [x.entity, x.source_file, x.file_format, x.rows_parsed, x.lines_malformed, x.note]
                for x in loads
            ],
        )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        con.close()
    for x in loads:
        log.info("%-16s %-8s %9d rows %s", x.entity, x.file_format or "-", x.rows_read, x.note)
    return loads
