#!/bin/sh
# postgres.sh -- the postgres service of docker-compose.local.yml: what the official image's
# entrypoint does with POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB and POSTGRES_INITDB_ARGS,
# for Debian's PostgreSQL 15 in the local base image. Runs as the postgres user; the arguments
# are the service's command ("postgres -c ...").
set -eu
bin=/usr/lib/postgresql/15/bin
PGDATA=${PGDATA:-/var/lib/postgresql/data}
export PGDATA
[ "${1:-}" = postgres ] && shift
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    pwfile=$(mktemp)
    printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
    # shellcheck disable=SC2086 # the official image splits POSTGRES_INITDB_ARGS too
    "$bin/initdb" -U "$POSTGRES_USER" --pwfile="$pwfile" ${POSTGRES_INITDB_ARGS:-} >/dev/null
    rm -f "$pwfile"
    echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
    "$bin/pg_ctl" -w -o "-c listen_addresses='' -c unix_socket_directories=/tmp" start >/dev/null
    "$bin/psql" -h /tmp -U "$POSTGRES_USER" -d postgres -v ON_ERROR_STOP=1 -q \
        -c "CREATE DATABASE \"$POSTGRES_DB\" OWNER \"$POSTGRES_USER\""
    "$bin/pg_ctl" -w stop >/dev/null
    echo "postgres.sh: database $POSTGRES_DB and user $POSTGRES_USER created"
fi
exec "$bin/postgres" -c unix_socket_directories=/tmp "$@"
