#!/usr/bin/env bash
# Side by side, alternating: Fashion-MNIST (all 70,000) streamed through one silo on PostgreSQL by `lshc ingest --server` and by
# the Python client (bench/python_ingest.py), each into a fresh store planned from the same sample.
# Usage: bench/python-vs-lshc.sh [ROUNDS]   (default 2; needs clients/python/.venv from scripts/test.sh and a
# Release build of lshc). Prints each run's line and keeps the silos' logs in $LSHC_BENCH_DIR (default a temp dir).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
rounds="${1:-2}"
fmnist=/usr/share/datasets/fashion-mnist
lshc_dll="$here/src/LshCluster.Cli/bin/Release/net10.0/lshc.dll"
python="$here/clients/python/.venv/bin/python"
state="${LSHC_BENCH_DIR:-$(mktemp -d /tmp/lshc-bench-py-XXXX)}"
bin=/usr/lib/postgresql/15/bin
[ -x "$bin/pg_ctl" ] || bin="$(dirname "$(command -v pg_ctl)")"
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

chmod 755 "$state"; mkdir -p "$state/pg"; [ "$(id -u)" -ne 0 ] || chown postgres "$state/pg"
as_pg "$bin/initdb" -D "$state/pg/data" -A trust -U lsh -E UTF8 --locale=C >/dev/null
port="$(free_port)"
as_pg "$bin/pg_ctl" -D "$state/pg/data" -l "$state/pg/log" -w -o "-p $port -k $state/pg -c listen_addresses=127.0.0.1" start >/dev/null
trap 'as_pg "$bin/pg_ctl" -D "$state/pg/data" -m immediate stop >/dev/null 2>&1 || true' EXIT

# All 70,000 images (training and test sets) in one idx file, which both producers read.
idx="${LSHC_IDX:-$state/fashion-mnist-70000-images-idx3-ubyte}"
[ -f "$idx" ] || python3 - "$fmnist/train-images-idx3-ubyte.gz" "$fmnist/t10k-images-idx3-ubyte.gz" "$idx" <<'PY'
import gzip, struct, sys
parts = [gzip.open(p, "rb").read() for p in sys.argv[1:3]]
count = sum(struct.unpack(">I", p[4:8])[0] for p in parts)
with open(sys.argv[3], "wb") as f:
    f.write(parts[0][:4] + struct.pack(">I", count) + parts[0][8:16] + b"".join(p[16:] for p in parts))
PY

run=0
for round in $(seq 1 "$rounds"); do
  for producer in lshc python; do
    run=$((run + 1))
    "$bin/createdb" -h 127.0.0.1 -p "$port" -U lsh "r$run"
    store="postgres:Host=127.0.0.1;Port=$port;Username=lsh;Database=r$run"
    dotnet "$lshc_dll" create --store "$store" --dim 784 --rungs 0.99,0.98 --sample "$idx" >/dev/null
    log="$state/silo-$run.log"
    dotnet "$lshc_dll" silo --store "$store" --listen "127.0.0.1:$(free_port)" --silo-port "$(free_port)" >"$log" 2>&1 &
    silo=$!
    for _ in $(seq 1 300); do grep -qs "^silo listening on" "$log" && break; sleep 0.1; done
    url="$(sed -n 's/^silo listening on \([^ ]*\).*/\1/p' "$log")"
    printf 'round %s, %-6s: ' "$round" "$producer"
    if [ "$producer" = lshc ]; then
      dotnet "$lshc_dll" ingest --server "$url" "$idx" --format idx | tail -1
    else
      "$python" "$here/bench/python_ingest.py" "$url" "$idx"
    fi
    kill -TERM "$silo"; wait "$silo" || true
  done
done
