#!/bin/bash
# The adapter's start time and memory against its record of the broker's
# answers (SPOOL/outcomes.log), the cost a bulk load leaves behind: ROWS
# answers read while they are within forward.outcomes_keep_days (default 14),
# then the same answers dated 15 days back (they are not taken in, and the
# file is compacted at start), then a start on what is left. The real
# build/bin/refx-adapter with the sample Kent Police configuration, on
# loopback with free ports; no broker is needed (the adapter starts and
# waits for one). Prints one table.
#
# Usage: bench/adapter_outcomes.sh [ROWS]      (default 1000000)
set -euo pipefail
ROWS=${1:-1000000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/build/bin
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
"$BIN/refx" keys gen broker kent-police --dir keys >/dev/null
"$BIN/refx" tokens issue bench --file keys/kent-police.tokens >/dev/null 2>&1
mkdir -p spool/kent-police inbox/kent-police
sed -e 's/127\.0\.0\.1:7690/127.0.0.1:0/' -e 's/metrics_address: "[^"]*"/metrics_address: "127.0.0.1:0"/' \
  "$ROOT/deploy/config/adapters/kent-police.textproto" >adapter.textproto

# ROWS acceptance lines, recorded AGE seconds ago (the file's format:
# adapters/forward/outcome_index.cc).
write_answers() {
  awk -v n="$ROWS" -v t="$(($(date +%s) - $1))" 'BEGIN {
    for (i = 0; i < n; i++) printf "A\tKP-2026-%08d\tR-%010d\t%d\t%d\n", i, i + 1, i + 1, t
  }' >spool/kent-police/outcomes.log
}

# One start: seconds to the ready file, peak resident memory, lines left.
start_once() {
  rm -f ready
  local t0 t1 pid
  t0=$(date +%s.%N)
  "$BIN/refx-adapter" --config adapter.textproto --ready-file ready >adapter.log 2>&1 &
  pid=$!
  while [ ! -s ready ]; do
    kill -0 "$pid" 2>/dev/null || { echo "refx-adapter exited:"; tail -5 adapter.log; exit 1; }
    sleep 0.01
  done
  t1=$(date +%s.%N)
  sleep 0.3
  local hwm
  hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  printf '| %s | %s | %d | %s |\n' "$1" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')" \
    $((hwm / 1024)) \
    "$(wc -l <spool/kent-police/outcomes.log)"
}

echo "# refx-adapter start on its record of $ROWS answers"
echo
echo "| outcomes.log | start, s | peak RSS, MB | lines after |"
echo "|---|---:|---:|---:|"
write_answers 3600
start_once "answers an hour old (kept)"
write_answers $((15 * 24 * 3600))
start_once "answers 15 days old (past the 14 kept)"
start_once "the start after that"
