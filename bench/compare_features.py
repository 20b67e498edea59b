"""Compare the feature marts of two churnwatch databases row by row (e.g. one built before a
change to the feature SQL and one after, on the same data).

Keys must match exactly; DOUBLE columns may differ by at most --tol (absolute, or relative to
the larger magnitude), every other column must be equal. Exit status 1 on any difference.

Example:
  python bench/compare_features.py /tmp/old.duckdb /tmp/new.duckdb
"""

from __future__ import annotations

import argparse
import sys

import duckdb

TABLES = {
    "customer_features": ("customer_id", "snapshot_date"),
    "churn_labels": ("customer_id", "snapshot_date"),
    "scoring_examples": ("customer_id", "as_of_date"),
}


def compare(old: str, new: str, tol: float) -> int:
    con = duckdb.connect()
    con.execute(f"attach '{old}' as old (read_only)")
    con.execute(f"attach '{new}' as new (read_only)")
    failures = 0
    for table, keys in TABLES.items():
        cols = con.sql(f"describe old.{table}").fetchall()
        new_cols = con.sql(f"describe new.{table}").fetchall()
        if [c[:2] for c in cols] != [c[:2] for c in new_cols]:
            print(f"{table}: columns differ")
            failures += 1
            continue
        on = " and ".join(f"o.{k} = n.{k}" for k in keys)
        counts = con.sql(
            f"select count(*) filter (where o.{keys[0]} is null), "
            f"count(*) filter (where n.{keys[0]} is null), count(*) "
            f"from old.{table} o full outer join new.{table} n on {on}"
        ).fetchall()[0]
        checks = []
        for name, ctype, *_ in cols:
            if name in keys or ctype.startswith("FLOAT["):
                continue
            if ctype == "DOUBLE":
                checks.append(
                    f"count(*) filter (where abs(o.{name} - n.{name}) > {tol} * "
                    f"greatest(1, abs(o.{name}), abs(n.{name})) "
                    f"or (o.{name} is null) <> (n.{name} is null)) as {name}"
                )
            else:
                checks.append(
                    f"count(*) filter (where o.{name} is distinct from n.{name}) as {name}"
                )
        diffs = con.sql(
            f"select {', '.join(checks)} from old.{table} o join new.{table} n on {on}"
        )
        bad = {c: v for c, v in zip(diffs.columns, diffs.fetchall()[0], strict=True) if v}
        status = "OK" if not bad and not counts[0] and not counts[1] else "DIFF"
        print(
            f"{table}: {counts[2]} rows, only old {counts[1]}, only new {counts[0]}, "
            f"columns differing: {bad or 'none'} -> {status}"
        )
        failures += status != "OK"
    return 1 if failures else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--tol", type=float, default=1e-9)
    args = parser.parse_args()
    return compare(args.old, args.new, args.tol)


if __name__ == "__main__":
    sys.exit(main())
