#!/usr/bin/env bash
# Resident memory per stored vector of a fresh process serving a store: `lshc serve STORE` started, timed until it
# answers /v1/stats, then left alone 20 s and its VmRSS read. Usage: bench/resident-after-load.sh STORE [ENV=VALUE...]
# (e.g. a store left by `lshc bench scale --store sqlite:/tmp/s.db`; ENV, such as DOTNET_GCConserveMemory=7, goes to
# the server's environment).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
store="$1"; shift
log="$(mktemp /tmp/lshc-resident-XXXX.log)"
start=$(date +%s.%N)
env "$@" dotnet "$here/src/LshCluster.Cli/bin/Release/net10.0/lshc.dll" serve --store "$store" --listen 127.0.0.1:0 --grpc "" >"$log" 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true; rm -f "$log"' EXIT
until grep -qs "^serving on" "$log"; do kill -0 $pid 2>/dev/null || { cat "$log"; exit 1; }; sleep 0.2; done
url="$(sed -n 's/^serving on //p' "$log")"
vectors="$(curl -sf "$url/v1/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["vectors"])')"
ready=$(echo "$(date +%s.%N) - $start" | bc)
sleep 20
rss_kb="$(awk '/VmRSS/{print $2}' /proc/$pid/status)"
echo "$vectors vectors; answering after ${ready%.*} s; resident $((rss_kb * 1024 / vectors)) bytes per vector ($((rss_kb / 1024)) MB)${*:+ with $*}"
