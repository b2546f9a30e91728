#!/usr/bin/env bash
# The suite, N times in a row, while a CPU hog spins on one core beside it (issue: a suite that
# stays green on a busy machine). Builds once, then runs vitest N times; stops at the first
# failure unless KEEP_GOING=1, and prints one line per run and a closing `N passed, N failed`.
#
#   tools/test-under-load.sh [runs=10]
set -uo pipefail
cd "$(dirname "$0")/.."
runs="${1:-10}"
logdir="${LOG_DIR:-$(mktemp -d -t vb-under-load-XXXX)}"
mkdir -p "$logdir"

npm run build --silent || exit 1
# One core taken by a busy loop (pinned when taskset exists), as another tenant would.
if command -v taskset >/dev/null 2>&1; then taskset -c 0 node -e 'for(;;){}' & else node -e 'for(;;){}' & fi
hog=$!
trap 'kill "$hog" 2>/dev/null' EXIT

passed=0
failed=0
for i in $(seq 1 "$runs"); do
  start=$(date +%s)
  if npx vitest run >"$logdir/run-$i.log" 2>&1; then
    passed=$((passed + 1)); verdict=passed
  else
    failed=$((failed + 1)); verdict=FAILED
  fi
  summary=$(grep -E '^\s*Tests ' "$logdir/run-$i.log" | tail -1 | sed 's/\x1b\[[0-9;]*m//g' | tr -s ' ')
  echo "run $i/$runs: $verdict in $(( $(date +%s) - start )) s —$summary (log: $logdir/run-$i.log)"
  if [ "$verdict" = FAILED ]; then
    grep -E 'FAIL|×' "$logdir/run-$i.log" | sed 's/\x1b\[[0-9;]*m//g' | head -20
    [ "${KEEP_GOING:-0}" = 1 ] || break
  fi
done
echo "under load: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
