#!/usr/bin/env bash
# Side by side, alternating: Fashion-MNIST (all 70,000) streamed through one silo on PostgreSQL by
# `lshc ingest --server` and by the Python client (bench/python_ingest.py), each into a fresh one-silo cluster of
# deploy/local-cluster.sh planned from the same sample (the images themselves).
# Usage: bench/python-vs-lshc.sh [ROUNDS]   (default 2; needs clients/python/.venv from scripts/test.sh). Prints
# each run's line; the clusters' state and logs go to $LSHC_BENCH_DIR (default a temp dir), deleted by `down`.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
rounds="${1:-2}"
fmnist=/usr/share/datasets/fashion-mnist
lshc_dll="$here/src/LshCluster.Cli/bin/Release/net10.0/lshc.dll"
python="$here/clients/python/.venv/bin/python"
work="${LSHC_BENCH_DIR:-$(mktemp -d /tmp/lshc-bench-py-XXXX)}"
chmod 755 "$work" # the postgres user reaches the clusters' data under it

# All 70,000 images (training and test sets) in one idx file, which both producers read and the planner samples.
idx="${LSHC_IDX:-$work/fashion-mnist-70000-images-idx3-ubyte}"
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
    export LSHC_CLUSTER_DIR="$work/cluster-$run" LSHC_SAMPLE="$idx"  # dimension 784, rungs 0.99,0.98: the script's defaults
    url="$("$here/deploy/local-cluster.sh" up 1 | sed -n 's/^silo: \([^ ]*\).*/\1/p')"
    printf 'round %s, %-6s: ' "$round" "$producer"
    if [ "$producer" = lshc ]; then
      dotnet "$lshc_dll" ingest --server "$url" "$idx" --format idx | tail -1
    else
      "$python" "$here/bench/python_ingest.py" "$url" "$idx"
    fi
    "$here/deploy/local-cluster.sh" down >/dev/null
  done
done
