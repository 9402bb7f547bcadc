#!/usr/bin/env bash
# The full matrix, {sqlite, postgres} x {1e5, 1e6} rows x {1, 2} workers, then one table.
#
#   bench/all.sh                                  # 10 s per route: about 25 minutes
#   DURATION=5 DBS=sqlite ROWS=100000 bench/all.sh
#   ROUNDS=2 bench/all.sh                         # each run's sequence twice, medians
#   PYTHON=.venv/bin/python bench/all.sh
#
# Each run seeds a fresh database, writes bench/results/<db>-<rows>-w<workers>.json,
# and the merged table goes to bench/results/summary.md.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python}
DURATION=${DURATION:-10}
DBS=${DBS:-sqlite postgres}
ROWS=${ROWS:-100000 1000000}
WORKERS=${WORKERS:-1 2}
ROUNDS=${ROUNDS:-1}

mkdir -p bench/results
files=()
for db in $DBS; do
  for rows in $ROWS; do
    for workers in $WORKERS; do
      out="bench/results/${db}-${rows}-w${workers}.json"
      echo "=== $db, $rows rows, $workers worker(s) ==="
      "$PYTHON" bench/run.py --db "$db" --rows "$rows" --workers "$workers" \
        --duration "$DURATION" --rounds "$ROUNDS" --out "$out"
      files+=("$out")
    done
  done
done

"$PYTHON" bench/report.py "${files[@]}" | tee bench/results/summary.md
