#!/bin/bash
# The issue-14 restart target: a three-silo cluster holding N vectors (default 1,000,000 planted vectors, d = 256)
# is started on its store, and how long it takes to serve again is measured — from the start of the silos to: every
# silo answering, a probe of 2,000 new vectors (which activates nearly every shard, as home or bucket shard) getting
# its verdicts, and all 1,024 shard grains active. Then every silo is killed (-9) and the same is measured again.
# The store is filled first by the embedded engine on the same PostgreSQL server (lshc bench ingest), and the silos'
# resident memory is printed after each start.
# Usage: bench/restart-cluster.sh [N]
# LSHC_BENCH_LOGS=DIR keeps the silos' logs of the run in DIR.
set -euo pipefail
[ -z "${LSHC_BENCH_LOGS:-}" ] || LSHC_BENCH_LOGS="$(realpath -m "$LSHC_BENCH_LOGS")"  # relative to the caller, not the repo
cd "$(dirname "$0")/.."
n="${1:-1000000}"
state="$(mktemp -d)"; chmod 755 "$state"  # PostgreSQL runs as its own user when this script runs as root
export LSHC_CLUSTER_DIR="$state/cluster" LSHC_DIM=256 LSHC_RUNGS=0.99,0.98,0.95
keep_logs() { [ -z "${LSHC_BENCH_LOGS:-}" ] || { mkdir -p "$LSHC_BENCH_LOGS" && cp "$LSHC_CLUSTER_DIR"/silo-*.log "$LSHC_BENCH_LOGS"/ 2>/dev/null; } || true; }
trap 'keep_logs; deploy/local-cluster.sh down >/dev/null 2>&1 || true; rm -rf "$state"' EXIT
lshc=src/LshCluster.Cli/bin/Release/net10.0/lshc
deploy/local-cluster.sh up 0 >/dev/null
port=$(cat "$LSHC_CLUSTER_DIR/pg.port")
sql() { psql -h 127.0.0.1 -p "$port" -U lsh -d postgres -tAc "$1"; }
store="postgres:Host=127.0.0.1;Port=$port;Username=lsh;Database=lsh"
# The cluster local-cluster.sh created is replaced by the benchmark's (planned on a sample of the planted set).
sql "DROP DATABASE lsh" >/dev/null && sql "CREATE DATABASE lsh" >/dev/null
echo "fill: $("$lshc" bench ingest --store "$store" --synthetic --dim 256 --limit "$n" 2>&1 | grep '^ingest:')"
echo "store: $(sql "SELECT pg_size_pretty(pg_database_size('lsh'))") in PostgreSQL"
# 2,000 new random unit vectors (fvecs) with ids of their own.
python3 - "$state" <<'PY'
import math, random, struct, sys
rng = random.Random(5)
with open(f"{sys.argv[1]}/probe.fvecs", "wb") as f, open(f"{sys.argv[1]}/probe.ids", "w") as ids:
    for i in range(2000):
        v = [rng.gauss(0, 1) for _ in range(256)]
        norm = math.sqrt(sum(x * x for x in v))
        f.write(struct.pack("<i", 256) + struct.pack("<256f", *[x / norm for x in v]))
        ids.write(f"probe-{i}\n")
PY
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }
measure() { # label, probe id prefix
  sed "s/^probe-/$2-/" "$state/probe.ids" > "$state/ids"
  local t0; t0=$(now)
  # The three silos start at once, as a supervisor would start them.
  for i in 1 2 3; do deploy/local-cluster.sh add > "$state/add-$i" & done
  wait
  local url; url=$(awk '/^silo:/ {print $2}' "$state/add-1")
  echo "$1: three silos answering after $(since "$t0")"
  "$lshc" ingest --server "$url" --ids "$state/ids" "$state/probe.fvecs" >/dev/null
  echo "$1: probe of 2,000 new vectors answered after $(since "$t0")"
  for _ in $(seq 1 600); do
    [ "$(deploy/local-cluster.sh status 2>/dev/null | grep -o '"shards":[0-9]*' | awk -F: '{s += $2} END {print s}')" = 1024 ] && break
    sleep 0.5
  done
  echo "$1: 1,024 shard grains active after $(since "$t0")"
  for f in "$LSHC_CLUSTER_DIR"/silo-*.pid; do
    echo "  silo $(cat "$f"): rss $(( $(ps -o rss= -p "$(cat "$f")") / 1024 )) MiB"
  done
}
measure "start" probe
for f in "$LSHC_CLUSTER_DIR"/silo-*.pid; do kill -9 "$(cat "$f")"; rm -f "$f"; done
measure "restart after kill -9 of all three" again
