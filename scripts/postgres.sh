#!/usr/bin/env bash
# Starts a throw-away PostgreSQL server for the tests and prints its URL.
#
# PostgreSQL refuses to run as root, so as root the server runs as the
# unprivileged user "veedelpg" (created when missing). The data folder lives
# under /tmp and is removed by `scripts/postgres.sh stop DIR`.
set -euo pipefail

# A free port unless one is asked for (another server may hold the usual one).
port=${VEEDEL_TEST_POSTGRES_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
bindir=""
for candidate in /usr/lib/postgresql/*/bin; do
  [ -x "$candidate/initdb" ] && bindir=$candidate
done
if [ -z "$bindir" ] && command -v initdb >/dev/null; then
  bindir=$(dirname "$(command -v initdb)")
fi
if [ -z "$bindir" ]; then
  echo "postgres.sh: no PostgreSQL server binaries (apt-get install postgresql)" >&2
  exit 1
fi

if [ "${1:-start}" = "stop" ]; then
  dir=$2
  owner=$(stat -c %U "$dir")
  runas=(); [ "$(id -u)" = 0 ] && runas=(runuser -u "$owner" --)
  "${runas[@]}" "$bindir/pg_ctl" -D "$dir/data" -m fast stop >/dev/null || true
  rm -rf "$dir"
  exit 0
fi

dir=$(mktemp -d /tmp/veedel-pg.XXXXXX)
runas=()
user=$(id -un)
if [ "$(id -u)" = 0 ]; then
  id veedelpg >/dev/null 2>&1 || useradd --system --no-create-home veedelpg
  chown veedelpg "$dir"
  runas=(runuser -u veedelpg --)
  user=veedelpg
fi
"${runas[@]}" "$bindir/initdb" -D "$dir/data" -U "$user" --auth=trust \
  --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1
"${runas[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off" \
  start >/dev/null
echo "VEEDEL_TEST_POSTGRES_URL=postgresql://$user@127.0.0.1:$port/postgres"
echo "VEEDEL_TEST_POSTGRES_DIR=$dir"
