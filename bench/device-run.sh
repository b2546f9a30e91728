#!/usr/bin/env bash
# Runs the capacity benchmark with its baselines and the latency step on a many-core machine
# without registry access, from what bench/pack-for-device.sh put in .device/ (carried there).
# The bridge is pinned to CPU 0, the load generator spread over CPUs 1…n−1 (one process each).
#
#   OUT=/some/folder bash bench/device-run.sh      # from the repository root
#
# Writes to $OUT: results.json and BENCHMARKS.md (this run only), bench.log (everything printed),
# device.txt (the machine). Settings (environment):
#   BENCH_CALLS          capacity call counts, bridge and both baselines   (default 300,600,1000)
#   BENCH_LATENCY_CALLS  latency step call counts                          (default 500)
#   BENCH_WINDOW         measurement window per step, s                    (default 10)
#   BENCH_GENERATORS     load-generator processes, or auto (CPUs − 1)      (default auto)
#   BENCH_TIMEOUT        seconds the benchmark may run before it is cut    (default 420)
# Expected wall time on 16 cores with the defaults: about 5 minutes (unpacking ~15 s).
set -euo pipefail

: "${OUT:?set OUT to the folder the results go to}"
CALLS=${BENCH_CALLS:-300,600,1000}
LATENCY_CALLS=${BENCH_LATENCY_CALLS:-500}
WINDOW=${BENCH_WINDOW:-10}
GENERATORS=${BENCH_GENERATORS:-auto}
LIMIT=${BENCH_TIMEOUT:-420}
D=.device

[ -f package.json ] && [ -d bench ] || { echo "device-run: run from the repository root" >&2; exit 2; }
for f in node.xz dist.tar.xz modules.tar.xz; do
  [ -f "$D/$f" ] || { echo "device-run: $D/$f is missing: run bash bench/pack-for-device.sh and carry .device" >&2; exit 2; }
done
# It replaces dist/dev and node_modules with the packed ones: never in a development checkout by accident.
if [ -d node_modules/typescript ] && [ -z "${DEVICE_RUN_REPLACE:-}" ]; then
  echo "device-run: this replaces node_modules (here a development install) with the packed production one;" >&2
  echo "            run it in a copy of the repository, or set DEVICE_RUN_REPLACE=1" >&2
  exit 2
fi
mkdir -p "$OUT"
started=$(date +%s)

# xz when installed, else Python's lzma: either decompresses to stdout.
unxz_to_stdout() {
  if command -v xz >/dev/null; then xz -dc "$1"
  else python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), sys.stdout.buffer)' "$1"
  fi
}

echo "device-run: unpacking"
mkdir -p "$D/bin"
unxz_to_stdout "$D/node.xz" > "$D/bin/node"
chmod +x "$D/bin/node"
rm -rf dist/dev node_modules
unxz_to_stdout "$D/dist.tar.xz" | tar -xf -
unxz_to_stdout "$D/modules.tar.xz" | tar -xf -
export PATH="$PWD/$D/bin:$PATH"

# 1,000 calls are ~2,000 sockets in the bridge alone.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true

{
  echo "date: $(date -u +%FT%TZ)"
  echo "cpus: $(nproc) ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'))"
  echo "memory: $(grep MemTotal /proc/meminfo)"
  echo "node: $(node --version)"
  echo "kernel: $(uname -r)"
  echo "open files: $(ulimit -n)"
  echo "taskset: $(command -v taskset || echo 'missing: processes will not be pinned')"
  echo "settings: calls $CALLS, latency $LATENCY_CALLS, window $WINDOW s, generators $GENERATORS, limit $LIMIT s"
} | tee "$OUT/device.txt"
echo "device-run: unpacked in $(( $(date +%s) - started )) s"

set +e
timeout --signal=TERM --kill-after=20 "$LIMIT" node dist/dev/bench/run.js \
  --only capacity,latency --calls "$CALLS" --baselines "$CALLS" --latency-calls "$LATENCY_CALLS" \
  --window "$WINDOW" --settle 15 --generators "$GENERATORS" --no-profile --out "$OUT" 2>&1 | tee "$OUT/bench.log"
rc=${PIPESTATUS[0]}
set -e
echo "device-run: finished with exit code $rc after $(( $(date +%s) - started )) s" | tee -a "$OUT/bench.log"
exit "$rc"
