#!/bin/sh
# mariadb.sh -- the mariadb service of docker-compose.local.yml: what the official image's
# entrypoint does with MARIADB_ROOT_PASSWORD, MARIADB_DATABASE, MARIADB_USER and
# MARIADB_PASSWORD, for Debian's MariaDB 10.11 in the local base image. Runs as the mysql user;
# the arguments are the service's command (server options).
set -eu
datadir=/var/lib/mysql/data
sock=/tmp/mysqld.sock
pidfile=/tmp/mysqld.pid
if [ ! -d "$datadir/mysql" ]; then
    mariadb-install-db --datadir="$datadir" --auth-root-authentication-method=normal \
        --skip-test-db >/dev/null
    mariadbd --datadir="$datadir" --socket="$sock" --pid-file="$pidfile" --skip-networking &
    pid=$!
    i=0
    until mariadb-admin --socket="$sock" -uroot ping >/dev/null 2>&1; do
        i=$((i + 1))
        [ "$i" -lt 60 ] || { echo "mariadb.sh: the server did not start" >&2; exit 1; }
        sleep 1
    done
    mariadb --socket="$sock" -uroot <<SQL
ALTER USER root@localhost IDENTIFIED BY '$MARIADB_ROOT_PASSWORD';
CREATE DATABASE \`$MARIADB_DATABASE\`;
CREATE USER '$MARIADB_USER'@'%' IDENTIFIED BY '$MARIADB_PASSWORD';
GRANT ALL ON \`$MARIADB_DATABASE\`.* TO '$MARIADB_USER'@'%';
SQL
    kill "$pid"
    wait "$pid" || true
    echo "mariadb.sh: database $MARIADB_DATABASE and user $MARIADB_USER created"
fi
exec mariadbd --datadir="$datadir" --socket="$sock" --pid-file="$pidfile" "$@"
