#!/usr/bin/env bash
# Start a throwaway PostgreSQL server for the warehouse tests, and print its URL.
#
#   eval "$(scripts/start-postgres.sh)"     # exports EVENTLIFT_TEST_POSTGRES_URL
#   scripts/start-postgres.sh stop          # stops it (the data stays in .pgdata/)
#
# Idempotent: installs the Debian `postgresql` package only when initdb/pg_ctl are missing,
# initialises the cluster in .pgdata/ (or $EVENTLIFT_PGDATA) once, starts it on 127.0.0.1 at
# $EVENTLIFT_PG_PORT (default 55432, the next free port when that one is taken by something
# else), trusts loopback connections, and creates the database `eventlift_test`. When the server
# is already running it only prints the URL. Messages go to stderr, the export line to stdout.
# Durability is switched off (fsync, synchronous_commit): the cluster is for tests only.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
data="${EVENTLIFT_PGDATA:-$repo/.pgdata}"
port="${EVENTLIFT_PG_PORT:-55432}"
database="eventlift_test"

say() { echo "start-postgres: $*" >&2; }

find_bin() {  # the directory holding initdb and pg_ctl, newest major version first
  if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
    dirname "$(readlink -f "$(command -v pg_ctl)")"
    return
  fi
  local dir
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -V -r); do
    if [[ -x "$dir/pg_ctl" && -x "$dir/initdb" ]]; then
      echo "$dir"
      return
    fi
  done
}

bin="$(find_bin || true)"
if [[ -z "$bin" ]]; then
  say "initdb/pg_ctl not found: installing the Debian postgresql package"
  as_root=()
  if [[ "$(id -u)" != 0 ]]; then
    command -v sudo >/dev/null 2>&1 || { say "not root and no sudo: install postgresql first"; exit 1; }
    as_root=(sudo)
  fi
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends postgresql >&2
  bin="$(find_bin)"
fi
[[ -n "$bin" ]] || { say "no PostgreSQL binaries after installing"; exit 1; }

# initdb and the server refuse to run as root: run them as the `postgres` user then.
as_owner=()
if [[ "$(id -u)" == 0 ]]; then
  if ! id postgres >/dev/null 2>&1; then
    useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
  fi
  as_owner=(runuser -u postgres --)
  if [[ -z "${EVENTLIFT_PGDATA:-}" ]] && ! runuser -u postgres -- test -x "$repo"; then
    data="${TMPDIR:-/tmp}/eventlift-pgdata-$(printf %s "$repo" | md5sum | cut -c1-8)"
    say "user postgres cannot enter $repo: using $data"
  fi
  mkdir -p "$data"
  chown postgres: "$data"
  chmod 700 "$data"
  if ! runuser -u postgres -- test -w "$data"; then
    say "user postgres cannot reach $data: set EVENTLIFT_PGDATA to a directory it can enter"
    exit 1
  fi
fi
pg() { (cd / && "${as_owner[@]}" "$bin/$1" "${@:2}"); }

url() { echo "postgresql+psycopg://postgres@127.0.0.1:$1/$database"; }
running_port() { sed -n 4p "$data/postmaster.pid" 2>/dev/null; }

if [[ "${1:-}" == stop ]]; then
  if [[ -f "$data/postmaster.pid" ]]; then pg pg_ctl -D "$data" -m fast -w stop >&2; fi
  exit 0
fi

version="$("$bin/pg_ctl" --version | sed -E 's/[^0-9]*([0-9]+).*/\1/')"
if [[ -f "$data/PG_VERSION" && "$(cat "$data/PG_VERSION")" != "$version" ]]; then
  say "$data holds a PostgreSQL $(cat "$data/PG_VERSION") cluster: re-initialising for $version"
  pg pg_ctl -D "$data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$data"
fi

if [[ ! -f "$data/PG_VERSION" ]]; then
  say "initialising a cluster in $data"
  mkdir -p "$data"
  [[ "$(id -u)" != 0 ]] || chown postgres: "$data"
  chmod 700 "$data"
  pg initdb -D "$data" -U postgres -E UTF8 --no-locale --auth=trust --no-sync >/dev/null
  cat > "$data/pg_hba.conf" <<'HBA'
# Throwaway test cluster: trust on loopback only (the server listens on 127.0.0.1 alone).
local all all                trust
host  all all 127.0.0.1/32   trust
host  all all ::1/128        trust
HBA
  [[ "$(id -u)" != 0 ]] || chown postgres: "$data/pg_hba.conf"
fi

if pg pg_ctl -D "$data" status >/dev/null 2>&1; then
  port="$(running_port)"
  say "already running on 127.0.0.1:$port"
else
  in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
  for _ in $(seq 20); do
    in_use "$port" || break
    say "port $port is taken, trying $((port + 1))"
    port=$((port + 1))
  done
  options="-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=''"
  options+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  say "starting on 127.0.0.1:$port (log: $data/server.log)"
  if ! pg pg_ctl -D "$data" -o "$options" -l "$data/server.log" -w -t 60 start >/dev/null; then
    tail -n 20 "$data/server.log" >&2 || true
    exit 1
  fi
fi

psql_() { "$bin/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres "$@"; }
if [[ "$(psql_ -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$database'")" != 1 ]]; then
  psql_ -d postgres -c "CREATE DATABASE $database" >/dev/null
  say "created database $database"
fi

echo "export EVENTLIFT_TEST_POSTGRES_URL=$(url "$port")"
