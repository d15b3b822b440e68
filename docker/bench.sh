#!/bin/sh
# bench.sh -- the compose stack's benchmark: pgbench and sysbench through HAProxy, which
# spreads the connections over weir1 and weir2. Tables are created directly on the
# databases; only the measured runs go through HAProxy and weir.
# Environment: DURATION (seconds per run, default 30), CLIENTS (default 32), SCALE (default 10),
# and where the services are: HAPROXY_HOST, POSTGRES_HOST, MARIADB_HOST (default: their
# service names).
set -eu
DURATION=${DURATION:-30}
CLIENTS=${CLIENTS:-32}
SCALE=${SCALE:-10}
HAPROXY_HOST=${HAPROXY_HOST:-haproxy}
POSTGRES_HOST=${POSTGRES_HOST:-postgres}
MARIADB_HOST=${MARIADB_HOST:-mariadb}
export PGPASSWORD=apppass

echo "== waiting for haproxy"
for i in $(seq 1 60); do
    pg_isready -q -h "$HAPROXY_HOST" -p 6432 && break
    sleep 1
done

echo "== pgbench -i -s $SCALE (directly on postgres)"
pgbench -i -q -s "$SCALE" -h "$POSTGRES_HOST" -p 5432 -U app testdb

echo "== pgbench: $CLIENTS clients for ${DURATION}s through haproxy:6432"
pgbench -n -c "$CLIENTS" -j 4 -T "$DURATION" -P 5 -h "$HAPROXY_HOST" -p 6432 -U app testdb

SB="--db-driver=mysql --mysql-user=app --mysql-password=apppass --mysql-db=shop --tables=4 --table-size=10000"
echo "== sysbench prepare (directly on mariadb)"
sysbench oltp_read_write $SB --mysql-host="$MARIADB_HOST" --mysql-port=3306 cleanup >/dev/null 2>&1 || true
sysbench oltp_read_write $SB --mysql-host="$MARIADB_HOST" --mysql-port=3306 prepare
echo "== sysbench oltp_read_write: $CLIENTS threads for ${DURATION}s through haproxy:6033"
sysbench oltp_read_write $SB --mysql-host="$HAPROXY_HOST" --mysql-port=6033 \
    --rand-type=uniform --threads="$CLIENTS" --time="$DURATION" --report-interval=5 run
