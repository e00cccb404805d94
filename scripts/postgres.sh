#!/usr/bin/env bash
# Start a throwaway PostgreSQL on 127.0.0.1:$1 (default 54329) for the tests, if the
# server binaries are installed and it is not already running. Data lives in /tmp.
set -euo pipefail
port=${1:-54329}
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
  echo "postgres.sh: no PostgreSQL server installed; PostgreSQL tests will be skipped" >&2
  exit 1
fi
data=/tmp/newsletter-pg-$port
run() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/bash -c "$*"; else bash -c "$*"; fi; }
if [ "$(id -u)" = 0 ]; then mkdir -p "$data" && chown postgres "$data"; fi
if ! run "$bindir/pg_ctl -D $data status" >/dev/null 2>&1; then
  if [ ! -f "$data/PG_VERSION" ]; then
    run "$bindir/initdb -D $data -A trust -U postgres" >/dev/null
  fi
  run "$bindir/pg_ctl -D $data -l $data.log -w -o '-c listen_addresses=127.0.0.1 -p $port -k /tmp -c fsync=off -c max_connections=200' start" >/dev/null
fi
run "$bindir/psql -h 127.0.0.1 -p $port -U postgres -tAc \"SELECT 1 FROM pg_database WHERE datname='newsletter_test'\"" | grep -q 1 \
  || run "$bindir/createdb -h 127.0.0.1 -p $port -U postgres newsletter_test"
echo "PostgreSQL on 127.0.0.1:$port"
