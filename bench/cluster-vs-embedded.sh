#!/bin/bash
# One paired run of the issue-4 throughput target: two silos (balanced first), then the embedded engine on the same
# PostgreSQL server, same input and scheme. Prints both rates, the producer's and the embedded engine's CPU time, and
# each silo's CPU time, page faults and resident memory.
# Usage: bench/cluster-vs-embedded.sh [FILE]   (default: the 60,000 Fashion-MNIST training images)
# LSHC_BENCH_LOGS=DIR keeps the silos' and PostgreSQL's logs of the run in DIR (a slow run is explained there).
# LSHC_BENCH_TRACE=FILE traces one silo's allocations into FILE for 40 s (LSHC_BENCH_TRACE_SECONDS) from 2 s before
# the cluster's ingest, with dotnet-trace (installed into a temporary tool path when missing; the silo's CPU time
# printed then includes the tracing). Read the trace with
#   dotnet run -c Release --project bench/LshCluster.Benchmarks -- allocation-sites FILE
set -euo pipefail
[ -z "${LSHC_BENCH_TRACE:-}" ] || LSHC_BENCH_TRACE="$(realpath -m "$LSHC_BENCH_TRACE")"  # relative to the caller, not the repo
cd "$(dirname "$0")/.."
F="${1:-/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz}"
state="$(mktemp -d)"; chmod 755 "$state"  # PostgreSQL runs as its own user when this script runs as root
export LSHC_CLUSTER_DIR="$state/cluster" LSHC_DIM=784 LSHC_RUNGS=0.99,0.98 LSHC_RECALL=0.999 LSHC_SAMPLE="$F"
keep_logs() {
  [ -n "${LSHC_BENCH_LOGS:-}" ] || return 0
  mkdir -p "$LSHC_BENCH_LOGS" && cp "$LSHC_CLUSTER_DIR"/silo-*.log "$LSHC_BENCH_LOGS"/ 2>/dev/null
  find "$LSHC_CLUSTER_DIR" -name server.log -exec cp {} "$LSHC_BENCH_LOGS"/postgres.log \; 2>/dev/null || true
}
trap 'keep_logs; deploy/local-cluster.sh down >/dev/null 2>&1 || true; rm -rf "$state"' EXIT
url=$(deploy/local-cluster.sh up 2 | awk '/^silo:/ {print $2}' | head -1)
port=$(cat "$LSHC_CLUSTER_DIR/pg.port")
sql() { psql -h 127.0.0.1 -p "$port" -U lsh -d lsh -tAc "$1"; }
# Balanced: each silo has 512 of the 1,024 shard grains active (as /v1/silos reports them); then 5 s more.
balanced() {
  [ "$(deploy/local-cluster.sh status 2>/dev/null | grep -o '"shards":512' | wc -l)" = 2 ]
}
for _ in $(seq 1 240); do
  balanced && break
  sleep 0.5
done
sleep 5
lshc=src/LshCluster.Cli/bin/Release/net10.0/lshc
tracing=""
if [ -n "${LSHC_BENCH_TRACE:-}" ]; then
  # A fixed duration, so that the session ends normally and the silo writes the method names the stacks need.
  dt="$(command -v dotnet-trace || echo "$state/tools/dotnet-trace")"
  [ -x "$dt" ] || dotnet tool install --tool-path "$state/tools" dotnet-trace --version 10.0.750501 >/dev/null
  secs="${LSHC_BENCH_TRACE_SECONDS:-40}"
  "$dt" collect -p "$(cat "$(ls "$LSHC_CLUSTER_DIR"/silo-*.pid | head -1)")" --providers Microsoft-Windows-DotNETRuntime:0x1:5 \
    --duration "$(printf '%02d:%02d:%02d' $((secs / 3600)) $((secs % 3600 / 60)) $((secs % 60)))" -o "$LSHC_BENCH_TRACE" >"$state/trace.log" 2>&1 &
  tracing=$!
  sleep 2
fi
# CPU seconds (user + system) of a command's process: the producer's and the embedded engine's.
TIMEFORMAT='%U + %S s of CPU'
ingest() { { time "$lshc" ingest "$@" 2>&1 | tail -1 | tr '\n' ' '; } 2>&1; }
echo "cluster:  $(ingest --server "$url" "$F")"
[ -z "$tracing" ] || wait "$tracing" || echo "tracing failed: $(tail -3 "$state/trace.log")"
for f in "$LSHC_CLUSTER_DIR"/silo-*.pid; do
  # /proc/PID/stat: minor faults (10), user (14) and system (15) ticks; the CPU includes the silo's start (~3 s here).
  echo "  silo $(cat "$f"): $(awk '{printf "cpu %.1f + %.1f s, %d page faults", $14 / 100, $15 / 100, $10}' "/proc/$(cat "$f")/stat"), rss $(( $(ps -o rss= -p "$(cat "$f")") / 1024 )) MiB"
  kill -9 "$(cat "$f")"
done
sql "CREATE DATABASE lsh_embedded" >/dev/null
store="postgres:Host=127.0.0.1;Port=$port;Username=lsh;Database=lsh_embedded"
$lshc create --store "$store" --dim 784 --rungs 0.99,0.98 --recall 0.999 --sample "$F" >/dev/null
echo "embedded: $(ingest --store "$store" "$F")"
