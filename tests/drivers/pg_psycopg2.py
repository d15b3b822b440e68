# pg_psycopg2.py -- psycopg2 (Debian's python3-psycopg2) through weir. psycopg2 binds
# parameters on the client and sends simple queries: the matrix's case without server-side
# prepared statements. Usage: HOST PORT USER PASSWORD DBNAME MODE.
import hashlib
import threading

import psycopg2
from psycopg2 import errors

from drvtap import (BIG_REPEAT, BIG_TEXT, BIGINT, BLOB, BYTES, CLIENTS, NUMERIC, ROWS, TEXT, TIMESTAMP,
                    TXNS, Tap, args, brief, check, eq, track, upload_value)

A = args()
TXN = A["mode"] == "transaction"
T = "drv_psycopg2_" + A["mode"]
INS = f"INSERT INTO {T} (id, i, b, t, n, f, ts, by) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
SEL = f"SELECT i, b, t, n, f, ts, by FROM {T} WHERE id = %s"
COUNT = f"SELECT count(*) FROM {T} WHERE id = %s"
ROW = (42, BIGINT, TEXT, NUMERIC, True, TIMESTAMP, BYTES)


def connect(autocommit=False, app="drv-psycopg2"):
    c = psycopg2.connect(host=A["host"], port=A["port"], user=A["user"], password=A["password"],
                         dbname=A["db"], sslmode="disable", connect_timeout=30,
                         application_name=app)
    c.autocommit = autocommit
    return track(c)


def one(c, sql, params=None):
    with c.cursor() as cur:
        cur.execute(sql, params)
        r = cur.fetchone()
    # bytea comes back as a memoryview
    return tuple(bytes(v) if isinstance(v, memoryview) else v for v in r)


def run(c, sql, params=None):
    with c.cursor() as cur:
        cur.execute(sql, params)


def setup():
    c = connect(autocommit=True)
    run(c, f"DROP TABLE IF EXISTS {T}")
    run(c, f"CREATE TABLE {T} (id int PRIMARY KEY, i int, b bigint, t text, n numeric(20,6), "
        "f boolean, ts timestamp, by bytea)")
    c.close()


def types():
    c = connect()
    run(c, INS, (1,) + ROW)
    run(c, INS, (2,) + (None,) * 7)
    c.commit()
    for r in range(3):
        eq(one(c, SEL, (1,)), ROW, "row 1, round %d" % r)
        eq(one(c, SEL, (2,)), (None,) * 7, "NULL row, round %d" % r)
        c.commit()
    got = one(c, "SELECT %s::int, %s::bigint, %s::text, %s::numeric, %s::boolean, "
              "%s::timestamp, %s::bytea, %s::text IS NULL", ROW + (None,))
    eq(got, ROW + (True,), "parameters echoed")
    c.commit()
    c.close()


def error():
    c = connect()
    try:
        run(c, "SELECT 1 / %s", (0,))
        check(False, "division by zero succeeded")
    except errors.DivisionByZero:
        pass
    c.rollback()
    eq(one(c, "SELECT %s::int + 1", (41,)), (42,), "a query after the error")
    c.commit()
    run(c, INS, (10,) + ROW)
    try:
        run(c, "SELECT * FROM no_such_table")
        check(False, "select from a missing table succeeded")
    except errors.UndefinedTable:
        pass
    try:
        run(c, "SELECT 1")
        check(False, "a query in an aborted transaction succeeded")
    except errors.InFailedSqlTransaction:
        pass
    c.rollback()
    eq(one(c, COUNT, (10,)), (0,), "row of the failed transaction")
    c.commit()
    c.close()


def rollback():
    c = connect()
    run(c, INS, (100,) + ROW)
    eq(one(c, COUNT, (100,)), (1,), "row inside the transaction")
    c.rollback()
    eq(one(c, COUNT, (100,)), (0,), "row after the rollback")
    run(c, INS, (101,) + ROW)
    c.commit()
    c.close()
    c = connect()
    eq(one(c, COUNT, (100,)), (0,), "rolled-back row, new connection")
    eq(one(c, COUNT, (101,)), (1,), "committed row, new connection")
    c.close()


def large():
    c = connect()
    with c.cursor() as cur:
        cur.execute("SELECT g, md5(g::text) FROM generate_series(1, %s) g", (ROWS,))
        rows = cur.fetchall()
    eq(len(rows), ROWS, "rows")
    eq(sum(r[0] for r in rows), ROWS * (ROWS + 1) // 2, "sum of the rows")
    eq(rows[-1][1], hashlib.md5(str(ROWS).encode()).hexdigest(), "last row")
    big = one(c, "SELECT repeat(%s, %s)", (TEXT, BIG_REPEAT))[0]
    check(big == BIG_TEXT, "5 MB value: %d characters, want %d" % (len(big), len(BIG_TEXT)))
    v, h = upload_value()
    got = one(c, "SELECT md5(x), length(x) FROM (SELECT %s::bytea AS x) s",
              (psycopg2.Binary(v),))
    eq(got, (h, len(v)), "1 MiB parameter as the server saw it")
    c.commit()
    c.close()


def concurrent():
    # Transaction mode: all connections are open before any starts and none closes before
    # all are done, so 12 clients really share 3 servers. Session mode: each runs and closes
    # while the others wait for a server.
    barrier = threading.Barrier(CLIENTS, timeout=60)
    errs = []

    def worker(k):
        try:
            c = connect(app="drv-client-%d" % k)
            if TXN:
                barrier.wait()
            for j in range(TXNS):
                run(c, INS, (1000 + 100 * k + j, k, j, TEXT, NUMERIC, True, TIMESTAMP, BLOB))
                got = one(c, f"SELECT count(*), sum(b), min(t), sum(length(by)), "
                          f"current_setting('application_name') FROM {T} "
                          "WHERE i = %s AND id >= 1000", (k,))
                eq(got, (j + 1, j * (j + 1) // 2, TEXT, (j + 1) * len(BLOB), "drv-client-%d" % k),
                   "client %d txn %d" % (k, j))
                c.commit()
            # and a statement on its own, outside any transaction
            c.autocommit = True
            eq(one(c, "SELECT length(%s::bytea)", (psycopg2.Binary(BLOB),)), (len(BLOB),),
               "client %d: statement outside a transaction" % k)
            if TXN:
                barrier.wait()
            c.close()
        except threading.BrokenBarrierError:
            errs.append("client %d: barrier broken" % k)
        except Exception as e:
            errs.append("client %d: %s" % (k, brief(e)))
            barrier.abort()

    ths = [threading.Thread(target=worker, args=(k,)) for k in range(CLIENTS)]
    for t in ths:
        t.start()
    for t in ths:
        t.join(90)
    check(not any(t.is_alive() for t in ths), "clients still running after 90 s")
    real = [e for e in errs if "barrier broken" not in e]
    check(not errs, "; ".join((real or errs)[:3]))
    c = connect()
    eq(one(c, f"SELECT count(*) FROM {T} WHERE id >= 1000"), (CLIENTS * TXNS,),
       "rows of all clients")
    c.close()


tap = Tap("psycopg2")
tap.case("setup", setup)
tap.case("types", types)
tap.case("error", error)
tap.case("rollback", rollback)
tap.case("large", large)
tap.case("concurrent", concurrent)
tap.done()
