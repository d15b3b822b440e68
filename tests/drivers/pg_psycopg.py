# pg_psycopg.py -- psycopg 3 (Debian's python3-psycopg) through weir: server-side prepared
# statements (prepare=True) and a pipeline. Usage: HOST PORT USER PASSWORD DBNAME MODE.
import hashlib
import threading

import psycopg
from psycopg import errors

from drvtap import (BIG_REPEAT, BIG_TEXT, BIGINT, BLOB, BYTES, CLIENTS, NUMERIC, ROWS, TEXT, TIMESTAMP,
                    TXNS, Tap, args, brief, check, eq, track, upload_value)

A = args()
TXN = A["mode"] == "transaction"
T = "drv_psycopg_" + A["mode"]
INS = f"INSERT INTO {T} (id, i, b, t, n, f, ts, by) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
SEL = f"SELECT i, b, t, n, f, ts, by FROM {T} WHERE id = %s"
COUNT = f"SELECT count(*) FROM {T} WHERE id = %s"
ROW = (42, BIGINT, TEXT, NUMERIC, True, TIMESTAMP, BYTES)


def connect(app="drv-psycopg", **kw):
    return track(psycopg.connect(host=A["host"], port=A["port"], user=A["user"],
                                 password=A["password"], dbname=A["db"], sslmode="disable",
                                 connect_timeout=30, application_name=app, **kw))


def setup():
    with connect(autocommit=True) as c:
        c.execute(f"DROP TABLE IF EXISTS {T}")
        c.execute(f"CREATE TABLE {T} (id int PRIMARY KEY, i int, b bigint, t text, "
                  "n numeric(20,6), f boolean, ts timestamp, by bytea)")


def types():
    with connect() as c:
        c.execute(INS, (1,) + ROW, prepare=True)
        c.execute(INS, (2,) + (None,) * 7, prepare=True)
        c.commit()
        # The first execution prepares, the next ones only Bind the prepared statement.
        for r in range(3):
            eq(c.execute(SEL, (1,), prepare=True).fetchone(), ROW, "row 1, round %d" % r)
            eq(c.execute(SEL, (2,), prepare=True).fetchone(), (None,) * 7,
               "NULL row, round %d" % r)
            names = c.execute("SELECT count(*) FROM pg_prepared_statements").fetchone()[0]
            check(names >= 2, "server-side statements on the server: %d" % names)
            c.commit()
        got = c.execute("SELECT %s::int, %s::bigint, %s::text, %s::numeric, %s::boolean, "
                        "%s::timestamp, %s::bytea, %s::text IS NULL",
                        ROW + (None,), prepare=True).fetchone()
        eq(got, ROW + (True,), "parameters echoed")
        c.commit()


def error():
    with connect() as c:
        try:
            c.execute("SELECT 1 / %s", (0,), prepare=True)
            check(False, "division by zero succeeded")
        except errors.DivisionByZero:
            pass
        c.rollback()
        eq(c.execute("SELECT %s::int + 1", (41,), prepare=True).fetchone()[0], 42,
           "a query after the error")
        c.commit()
        # An error in a transaction that did work: the work is gone with the rollback.
        c.execute(INS, (10,) + ROW, prepare=True)
        try:
            c.execute("SELECT * FROM no_such_table")
            check(False, "select from a missing table succeeded")
        except errors.UndefinedTable:
            pass
        try:
            c.execute("SELECT 1")
            check(False, "a query in an aborted transaction succeeded")
        except errors.InFailedSqlTransaction:
            pass
        c.rollback()
        eq(c.execute(COUNT, (10,), prepare=True).fetchone()[0], 0, "row of the failed transaction")
        c.commit()


def rollback():
    with connect() as c:
        c.execute(INS, (100,) + ROW, prepare=True)
        eq(c.execute(COUNT, (100,), prepare=True).fetchone()[0], 1, "row inside the transaction")
        c.rollback()
        eq(c.execute(COUNT, (100,), prepare=True).fetchone()[0], 0, "row after the rollback")
        c.execute(INS, (101,) + ROW, prepare=True)
        c.commit()
    with connect() as c:
        eq(c.execute(COUNT, (100,), prepare=True).fetchone()[0], 0, "rolled-back row, new conn")
        eq(c.execute(COUNT, (101,), prepare=True).fetchone()[0], 1, "committed row, new conn")


def large():
    with connect() as c:
        rows = c.execute("SELECT g, md5(g::text) FROM generate_series(1, %s) g", (ROWS,),
                         prepare=True).fetchall()
        eq(len(rows), ROWS, "rows")
        eq(sum(r[0] for r in rows), ROWS * (ROWS + 1) // 2, "sum of the rows")
        eq(rows[-1][1], hashlib.md5(str(ROWS).encode()).hexdigest(), "last row")
        big = c.execute("SELECT repeat(%s, %s)", (TEXT, BIG_REPEAT), prepare=True).fetchone()[0]
        check(big == BIG_TEXT, "5 MB value: %d characters, want %d" % (len(big), len(BIG_TEXT)))
        v, h = upload_value()
        got = c.execute("SELECT md5(x), length(x) FROM (SELECT %s::bytea AS x) s", (v,),
                        prepare=True).fetchone()
        eq(got, (h, len(v)), "1 MiB parameter as the server saw it")
        c.commit()


def pipeline():
    with connect() as c:
        curs = []
        with c.pipeline():
            for j in range(20):
                c.cursor().execute(INS, (200 + j, j, BIGINT + j, TEXT, NUMERIC, j % 2 == 0,
                                         TIMESTAMP, BYTES), prepare=True)
                cur = c.cursor()
                cur.execute(f"SELECT i, b, t FROM {T} WHERE id = %s", (200 + j,), prepare=True)
                curs.append((j, cur))
            c.commit()
        for j, cur in curs:
            eq(cur.fetchone(), (j, BIGINT + j, TEXT), "pipelined select %d" % j)
    with connect(autocommit=True) as c:
        with c.pipeline():
            curs = [c.execute("SELECT %s::int, %s::text", (j, TEXT), prepare=True)
                    for j in range(50)]
        for j, cur in enumerate(curs):
            eq(cur.fetchone(), (j, TEXT), "autocommit pipeline %d" % j)
        eq(c.execute(f"SELECT count(*) FROM {T} WHERE id BETWEEN 200 AND 219").fetchone()[0],
           20, "pipelined rows committed")


def concurrent():
    # Transaction mode: all connections are open before any starts and none closes before
    # all are done, so 12 clients really share 3 servers. Session mode: each runs and closes
    # while the others wait for a server.
    barrier = threading.Barrier(CLIENTS, timeout=60)
    errs = []

    def worker(k):
        try:
            with connect("drv-client-%d" % k) as c:
                if TXN:
                    barrier.wait()
                for j in range(TXNS):
                    c.execute(INS, (1000 + 100 * k + j, k, j, TEXT, NUMERIC, True, TIMESTAMP,
                                    BLOB), prepare=True)
                    got = c.execute(f"SELECT count(*), sum(b), min(t), sum(length(by)), "
                                    f"current_setting('application_name') FROM {T} "
                                    "WHERE i = %s AND id >= 1000", (k,), prepare=True).fetchone()
                    eq(got, (j + 1, j * (j + 1) // 2, TEXT, (j + 1) * len(BLOB),
                             "drv-client-%d" % k),
                       "client %d txn %d" % (k, j))
                    c.commit()
                # and a statement on its own, outside any transaction
                c.autocommit = True
                eq(c.execute("SELECT length(%s::bytea)", (BLOB,), prepare=True).fetchone()[0],
                   len(BLOB), "client %d: statement outside a transaction" % k)
                if TXN:
                    barrier.wait()
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
    with connect() as c:
        eq(c.execute(f"SELECT count(*) FROM {T} WHERE id >= 1000").fetchone()[0],
           CLIENTS * TXNS, "rows of all clients")


tap = Tap("psycopg")
tap.case("setup", setup)
tap.case("types", types)
tap.case("error", error)
tap.case("rollback", rollback)
tap.case("large", large)
tap.case("pipeline", pipeline)
tap.case("concurrent", concurrent)
tap.done()
