#!/usr/bin/env bash
# sysbench.sh -- sysbench's oltp_point_select with server-side prepared statements
# (--db-ps-mode=auto) through weir, for its mysql or pgsql driver, in the TAP-like form of the
# other driver scripts: cleanup, prepare (one table of 1000 rows), a 5 s run, cleanup.
# Threads: 12 in transaction mode (more clients than the pool's 3 servers), 3 in session mode
# (one per server: a session-mode client holds its server for the whole run).
#
#   sysbench.sh mysql|pgsql HOST PORT USER PASSWORD DBNAME session|transaction
set -uo pipefail

if [[ $# -ne 7 || ! "$1" =~ ^(mysql|pgsql)$ || ! "$7" =~ ^(session|transaction)$ ]]; then
    echo "usage: $0 mysql|pgsql HOST PORT USER PASSWORD DBNAME session|transaction" >&2
    exit 2
fi
driver=$1 host=$2 port=$3 user=$4 password=$5 db=$6 mode=$7
threads=3
[[ $mode == transaction ]] && threads=12
conn=(--db-driver="$driver" --"$driver"-host="$host" --"$driver"-port="$port"
    --"$driver"-user="$user" --"$driver"-password="$password" --"$driver"-db="$db"
    --tables=1 --table-size=1000)
n=0
failed=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# step NAME COMMAND...: one TAP line for a command, its output as "# " lines when it fails.
step() {
    local name=$1 t0 rc secs
    shift
    n=$((n + 1))
    t0=${EPOCHREALTIME/./}
    "$@" >"$out" 2>&1
    rc=$?
    secs=$(((${EPOCHREALTIME/./} - t0) / 10000))
    secs=$(printf '%d.%02d' $((secs / 100)) $((secs % 100)))
    if ((rc == 0)); then
        echo "ok $n - $name ($secs s)"
    else
        failed=$((failed + 1))
        echo "not ok $n - $name ($secs s)"
        grep -v '^$' "$out" | tail -n 15 | sed 's/^/#   /'
    fi
    return $rc
}

# run: the load, then the figures sysbench printed; any error or reconnect is a failure.
run() {
    sysbench oltp_point_select "${conn[@]}" --db-ps-mode=auto --threads="$threads" --time=5 \
        --report-interval=0 run || return 1
    grep -Eq '^ *transactions: +[1-9][0-9]* ' "$out" || { echo "no transactions"; return 1; }
    grep -Eq '^ *ignored errors: +0 ' "$out" || { echo "errors were ignored"; return 1; }
    grep -Eq '^ *reconnects: +0 ' "$out" || { echo "reconnects"; return 1; }
}

sysbench oltp_point_select "${conn[@]}" cleanup >/dev/null 2>&1
step "prepare" sysbench oltp_point_select "${conn[@]}" prepare &&
    step "run: $threads threads, 5 s, --db-ps-mode=auto" run &&
    grep -E '^ *(transactions|queries|ignored errors|reconnects):' "$out" | sed 's/^ */# /'
step "cleanup" sysbench oltp_point_select "${conn[@]}" cleanup
echo "1..$n"
((failed == 0))
