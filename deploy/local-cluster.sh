#!/usr/bin/env bash
# A throwaway LshCluster on this machine: one PostgreSQL server and N silos on loopback.
#
#   deploy/local-cluster.sh up [N]        start PostgreSQL and N silos (default 3); print their URLs
#   deploy/local-cluster.sh add           start one more silo (scale out)
#   deploy/local-cluster.sh remove URL    drain the silo at URL and stop it (scale in)
#   deploy/local-cluster.sh status        silos and the shard grains active on each (a live silo's /v1/silos)
#   deploy/local-cluster.sh down          stop every silo and PostgreSQL, delete the state
#
# Settings (environment): LSHC_CLUSTER_DIR (state; default ./.lshc-cluster), LSHC_DIM (default 784),
# LSHC_RUNGS (default 0.99,0.98), LSHC_RECALL (default 0.99), LSHC_SHARDS (default 1024), LSHC_SAMPLE (a vector file
# the planner centres the hashing on; e.g. the Fashion-MNIST idx file). Each silo takes three free ports: gRPC, REST
# and the silo port (Orleans).
# The cluster is created on the first `up`; `up` again on the same state restarts the silos over the same data.
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
state="${LSHC_CLUSTER_DIR:-$PWD/.lshc-cluster}"
mkdir -p "$state"
state="$(cd "$state" && pwd)"
pg_data="$state/pg"
lshc_dll="$here/src/LshCluster.Cli/bin/Release/net10.0/lshc.dll"

die() { echo "local-cluster: $*" >&2; exit 2; }

pg_bin() {
  local bin
  for bin in "${LSHC_PG_BIN:-}" /usr/lib/postgresql/15/bin $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -n "$bin" ] && [ -x "$bin/pg_ctl" ] && { echo "$bin"; return; }
  done
  echo "local-cluster: installing postgresql (pg_ctl not found)" >&2
  local sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq postgresql >&2
  ls -d /usr/lib/postgresql/*/bin | sort -V -r | head -1
}

# initdb and pg_ctl refuse to run as root: run them as the postgres user on a directory it owns.
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# A free port below the kernel's ephemeral range, never handed out twice by this cluster: a port the kernel picks
# (bind to 0) can be taken as the local end of someone's outgoing connection before the silo binds it.
free_port() {
  python3 - "$state/ports" <<'PY'
import random, socket, sys
used = set(open(sys.argv[1]).read().split()) if __import__("os").path.exists(sys.argv[1]) else set()
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
for _ in range(1000):
    port = random.randint(max(1024, low - 12000), low - 1)
    if str(port) in used:
        continue
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
    open(sys.argv[1], "a").write(f"{port}\n")
    print(port)
    break
else:
    sys.exit("local-cluster: no free port found below the ephemeral range")
PY
}

store() { echo "postgres:Host=127.0.0.1;Port=$(cat "$state/pg.port");Username=lsh;Database=lsh"; }

lshc() { dotnet "$lshc_dll" "$@"; }

build() {
  if [ ! -f "$lshc_dll" ] || [ -n "$(find "$here/src" -name '*.cs' -newer "$lshc_dll" -print -quit)" ]; then
    echo "== building lshc (Release)" >&2
    dotnet build "$here/src/LshCluster.Cli" -c Release -v quiet -nologo >&2
  fi
}

start_pg() {
  local bin; bin="$(pg_bin)"
  if [ ! -d "$pg_data" ]; then
    mkdir -p "$pg_data"
    [ "$(id -u)" -ne 0 ] || chown postgres:postgres "$state" "$pg_data"
    as_pg "$bin/initdb" -D "$pg_data" -A trust -U lsh -E UTF8 --locale=C >/dev/null
  fi
  if as_pg "$bin/pg_ctl" -D "$pg_data" status >/dev/null 2>&1; then return; fi
  local port; port="$(free_port)"
  echo "$port" > "$state/pg.port"
  as_pg "$bin/pg_ctl" -D "$pg_data" -l "$pg_data/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $pg_data -c max_connections=200" start >/dev/null
  "$bin/psql" -h 127.0.0.1 -p "$port" -U lsh -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='lsh'" | grep -q 1 \
    || "$bin/createdb" -h 127.0.0.1 -p "$port" -U lsh lsh
}

ensure_cluster() {
  [ -f "$state/created" ] && return
  lshc create --store "$(store)" --dim "${LSHC_DIM:-784}" --rungs "${LSHC_RUNGS:-0.99,0.98}" \
    --recall "${LSHC_RECALL:-0.99}" --shards "${LSHC_SHARDS:-1024}" ${LSHC_SAMPLE:+--sample "$LSHC_SAMPLE"} >&2
  touch "$state/created"
}

start_silo() {
  local port; port="$(free_port)"
  local http_port; http_port="$(free_port)"
  local log="$state/silo-$port.log"
  nohup dotnet "$lshc_dll" silo --store "$(store)" --listen "127.0.0.1:$port" --http "127.0.0.1:$http_port" \
    --silo-port "$(free_port)" >"$log" 2>&1 &
  echo "$!" > "$state/silo-$port.pid"
  for _ in $(seq 1 300); do
    # The gRPC URL first (clients and lshc --server), then the REST API (and, with issue 5, the dashboard).
    grep -q "^silo http on" "$log" 2>/dev/null && { echo "http://127.0.0.1:$port  http: http://127.0.0.1:$http_port"; return; }
    kill -0 "$(cat "$state/silo-$port.pid")" 2>/dev/null || { cat "$log" >&2; die "silo on port $port exited"; }
    sleep 0.1
  done
  die "silo on port $port did not start within 30 s (log: $log)"
}

stop_silo() { # pid-file, signal
  local pid; pid="$(cat "$1")"
  kill "-$2" "$pid" 2>/dev/null || true
  for _ in $(seq 1 900); do kill -0 "$pid" 2>/dev/null || { rm -f "$1"; return; }; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true; rm -f "$1"
}

case "${1:-}" in
  up)
    n="${2:-3}"
    build; start_pg; ensure_cluster
    echo "postgres: $(store)"
    for _ in $(seq 1 "$n"); do echo "silo: $(start_silo)"; done
    ;;
  add)
    build; start_pg
    echo "silo: $(start_silo)"
    ;;
  remove)
    [ -n "${2:-}" ] || die "remove URL: name the silo to drain"
    port="${2##*:}"; port="${port%/}"
    [ -f "$state/silo-$port.pid" ] || die "no silo of this cluster listens on port $port"
    stop_silo "$state/silo-$port.pid" TERM
    echo "removed: $2"
    ;;
  status)
    [ -f "$state/pg.port" ] || die "no cluster in $state (run: $0 up)"
    # Membership is Orleans' (its tables in the same database): ask a live silo, which reports every silo and the
    # shard grains active on each.
    for f in "$state"/silo-*.pid; do
      [ -e "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null || continue
      web="$(sed -n 's/^silo http on \([^ ]*\).*/\1/p' "${f%.pid}.log" | head -1)"
      [ -n "$web" ] && curl -fsS "$web/v1/silos" && echo && exit 0
    done
    die "no live silo answered"
    ;;
  down)
    for f in "$state"/silo-*.pid; do [ -e "$f" ] && stop_silo "$f" KILL; done
    if [ -d "$pg_data" ]; then as_pg "$(pg_bin)/pg_ctl" -D "$pg_data" -m immediate stop >/dev/null 2>&1 || true; fi
    rm -rf "$state"
    echo "down"
    ;;
  *)
    sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
