#!/usr/bin/env bash
# NAB's standard score of our detector for several pattern-memory level counts, and their
# mean and range: the score moves by about ±2 points with the level count, in no order, so
# one count's score says less than the mean. Usage: scripts/nab-levels.sh <folder holding nab/> [levels...]
# (default levels: 60 64 68 72 76 80 84). Needs a release build of the CLI (cargo build
# --release --bin aedge; set CARGO_TARGET_DIR as for the build).
set -euo pipefail
data=${1:?usage: scripts/nab-levels.sh <folder holding nab/> [levels...]}
shift
levels=("$@")
[ ${#levels[@]} -gt 0 ] || levels=(60 64 68 72 76 80 84)
bin=${CARGO_TARGET_DIR:-target}/release/aedge
[ -x "$bin" ] || { echo "no $bin: run cargo build --release --bin aedge first" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for n in "${levels[@]}"; do
  "$bin" --quiet eval nab --data "$data" --pattern-levels "$n" --out "$out/$n" >/dev/null
  # report.json holds the three profiles' scores.
  python3 - "$out/$n/report.json" "$n" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(sys.argv[2], *[f"{p['score']:.4f}" for p in r["profiles"]])
PY
done | awk '{print "levels " $1 ": standard " $2 ", low FP " $3 ", low FN " $4; s+=$2; f+=$3; n+=$4; k++
    if (k == 1 || $2 < lo) lo = $2; if (k == 1 || $2 > hi) hi = $2}
  END {if (k) printf "mean over %d level counts: standard %.2f (%.2f to %.2f), low FP %.2f, low FN %.2f\n", k, s/k, lo, hi, f/k, n/k}'
