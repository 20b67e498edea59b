#!/bin/bash
# One incremental week and a full build of the feature models, side by side and in sequence
# (`dbt run --threads 1`, no tests), so that neither pays for dbt running two nodes at once.
#
#   bench/incremental_sequential.sh STAGED_DB BASE_DB
#
# STAGED_DB: a database whose features were built on all but the last week, with the full data
#   then ingested and staged (`churnwatch ingest` + `dbt run --select models/staging`).
# BASE_DB: a database built on all but the last week (bench_features.py's full.duckdb).
# Both are copied; the originals are not touched. Each run starts with its copy in the page cache
# and the original evicted. Prints the per-model times and their sums.
set -euo pipefail
if [[ $# -ne 2 || "$1" == "-h" || "$1" == "--help" ]]; then
    sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi
here="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
models="int_as_of_date int_customers_resolved int_snapshot_calendar int_customer_category_firsts
int_customer_daily_activity int_customer_active_spells int_feature_pairs
int_customer_collapsed_history int_customer_feature_windows customer_features churn_labels
scoring_examples training_examples"
report() {
    "$here/.venv/bin/python" - "$1" "$here/dbt_project/target/run_results.json" <<'PY'
import json, sys
total = 0.0
for r in json.load(open(sys.argv[2]))["results"]:
    total += r["execution_time"]
    print(f"  {r['unique_id'].split('.')[-1]:<36}{r['execution_time']:8.1f}")
print(f"{sys.argv[1]}: {total:.1f} s summed")
PY
}
cd "$here/dbt_project"
for run in incremental full; do
    if [[ $run == incremental ]]; then src="$1"; extra=(); else src="$2"; extra=(--full-refresh); fi
    cp "$src" "$work/db.duckdb"; sync
    # both runs start alike: the source's pages evicted, the copy's read into the page cache
    # (the incremental database is the larger one: left as it came, more of it was read from
    # disk than of the full build's)
    "$here/.venv/bin/python" - "$src" "$work/db.duckdb" <<'PY'
import os, sys
for path, keep in ((sys.argv[1], False), (sys.argv[2], True)):
    fd = os.open(path, os.O_RDONLY)
    try:
        if keep:
            while os.read(fd, 1 << 24):
                pass
        else:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
PY
    sleep 5
    # shellcheck disable=SC2086
    CHURNWATCH_DB="$work/db.duckdb" "$here/.venv/bin/dbt" run --profiles-dir .. --threads 1 \
        "${extra[@]}" --select $models > "$work/$run.log" 2>&1 || { tail -30 "$work/$run.log"; exit 1; }
    report "$run"
    rm -f "$work/db.duckdb"
done
