#!/usr/bin/env bash
# Runs a command against a throw-away PostgreSQL server: initdb in a temp dir, a unix socket
# there, no TCP. Exports CACHET_TEST_PG (a libpq conninfo without dbname) for the command.
# Exit 77 (ctest: skipped) when the PostgreSQL server binaries are not installed.
set -euo pipefail
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ]; then
  echo "with_postgres: PostgreSQL server not installed; skipping" >&2
  exit 77
fi
DIR=$(mktemp -d /tmp/cachet-pg.XXXXXX)
AS=()
if [ "$(id -u)" = 0 ]; then
  # initdb refuses to run as root: run the server as the postgres user.
  chown postgres "$DIR"
  AS=(runuser -u postgres --)
  USER_OPT="user=postgres"
else
  USER_OPT="user=$(id -un)"
fi
cleanup() {
  "${AS[@]}" "$PGBIN/pg_ctl" -D "$DIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$DIR"
}
trap cleanup EXIT
"${AS[@]}" "$PGBIN/initdb" -D "$DIR/data" -A trust -U "${USER_OPT#user=}" >/dev/null
"${AS[@]}" "$PGBIN/pg_ctl" -D "$DIR/data" -w -l "$DIR/log" \
  -o "-k $DIR -c listen_addresses='' -c fsync=off -p 5439" start >/dev/null
export CACHET_TEST_PG="host=$DIR port=5439 $USER_OPT"
"$@"
