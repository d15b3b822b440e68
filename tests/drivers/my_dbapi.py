# my_dbapi.py -- the cases of the driver matrix for a MySQL driver with Python's DB-API
# (PyMySQL, mysqlclient): both bind parameters on the client and send COM_QUERY, so these are
# the MySQL cases without server-side prepared statements. run(name, connect, code_of) runs
# them; connect(autocommit) opens a connection, code_of(e) gives an exception's MySQL code.
import hashlib
import threading

from drvtap import (BIG_REPEAT, BIG_TEXT, BIGINT, BLOB, BYTES, CLIENTS, NUMERIC, ROWS, TEXT, TIMESTAMP,
                    TXNS, Tap, args, brief, check, eq, track, upload_value)

A = args()
TXN = A["mode"] == "transaction"
ROW = (42, BIGINT, TEXT, NUMERIC, True, TIMESTAMP, BYTES)


def run(name, open_conn, code_of):
    T = "drv_%s_%s" % (name, A["mode"])
    INS = f"INSERT INTO {T} (id, i, b, t, n, f, ts, bl) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
    SEL = f"SELECT i, b, t, n, f, ts, bl FROM {T} WHERE id = %s"
    COUNT = f"SELECT COUNT(*) FROM {T} WHERE id = %s"

    def connect(autocommit):
        return track(open_conn(autocommit))

    def q(c, sql, params=None, all=False):
        cur = c.cursor()
        cur.execute(sql, params)
        r = cur.fetchall() if all else cur.fetchone()
        cur.close()
        return r

    def fails(code, what, c, sql, params=None):
        try:
            q(c, sql, params)
        except Exception as e:
            check(code_of(e) == code, "%s: got %s, want error %d" % (what, brief(e), code))
            return
        check(False, "%s: succeeded, want error %d" % (what, code))

    def setup():
        c = connect(True)
        q(c, f"DROP TABLE IF EXISTS {T}")
        q(c, f"CREATE TABLE {T} (id INT PRIMARY KEY, i INT, b BIGINT, t VARCHAR(100), "
          "n DECIMAL(20,6), f BOOLEAN, ts DATETIME(6), bl LONGBLOB) "
          "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4")
        c.close()

    def types():
        c = connect(False)
        q(c, INS, (1,) + ROW)
        q(c, INS, (2,) + (None,) * 7)
        c.commit()
        for r in range(3):
            eq(q(c, SEL, (1,)), ROW, "row 1, round %d" % r)
            eq(q(c, SEL, (2,)), (None,) * 7, "NULL row, round %d" % r)
            c.commit()
        got = q(c, "SELECT CAST(%s AS SIGNED), CAST(%s AS SIGNED), CAST(%s AS CHAR), "
                "CAST(%s AS DECIMAL(20,6)), %s, CAST(%s AS DATETIME(6)), %s, %s IS NULL",
                ROW + (None,))
        eq(got, ROW + (1,), "parameters echoed")
        c.commit()
        c.close()

    def error():
        c = connect(False)
        fails(1062, "duplicate key", c, INS, (1,) + ROW)
        eq(q(c, "SELECT %s + 1", (41,)), (42,), "a query after the error")
        q(c, INS, (10,) + ROW)
        fails(1146, "missing table", c, "SELECT * FROM no_such_table")
        eq(q(c, COUNT, (10,)), (1,), "row of the transaction after the error")
        c.rollback()
        eq(q(c, COUNT, (10,)), (0,), "row after the rollback")
        c.commit()
        c.close()

    def rollback():
        c = connect(False)
        q(c, INS, (100,) + ROW)
        eq(q(c, COUNT, (100,)), (1,), "row inside the transaction")
        c.rollback()
        eq(q(c, COUNT, (100,)), (0,), "row after the rollback")
        q(c, INS, (101,) + ROW)
        c.commit()
        c.close()
        c = connect(True)
        eq(q(c, COUNT, (100,)), (0,), "rolled-back row, new connection")
        eq(q(c, COUNT, (101,)), (1,), "committed row, new connection")
        c.close()

    def large():
        c = connect(True)
        rows = q(c, "SELECT seq, MD5(seq) FROM seq_1_to_100000 WHERE seq <= %s", (ROWS,),
                 all=True)
        eq(len(rows), ROWS, "rows")
        eq(sum(r[0] for r in rows), ROWS * (ROWS + 1) // 2, "sum of the rows")
        eq(rows[-1][1], hashlib.md5(str(ROWS).encode()).hexdigest(), "last row")
        big = q(c, "SELECT REPEAT(%s, %s)", (TEXT, BIG_REPEAT))[0]
        check(big == BIG_TEXT, "5 MB value: %d characters, want %d" % (len(big), len(BIG_TEXT)))
        v, h = upload_value()
        got = q(c, "SELECT MD5(x), LENGTH(x) FROM (SELECT %s AS x) s", (v,))
        eq(got, (h, len(v)), "1 MiB parameter as the server saw it")
        c.close()

    def concurrent():
        # Transaction mode: all connections are open before any starts and none closes
        # before all are done, so 12 clients really share 3 servers. Session mode: each runs
        # and closes while the others wait for a server.
        barrier = threading.Barrier(CLIENTS, timeout=60)
        errs = []

        def worker(k):
            try:
                c = connect(False)
                tz = "+%02d:00" % k  # session state of this client's own, to follow it
                q(c, "SET time_zone = %s", (tz,))
                c.commit()
                if TXN:
                    barrier.wait()
                for j in range(TXNS):
                    q(c, INS, (1000 + 100 * k + j, k, j, TEXT, NUMERIC, True, TIMESTAMP, BLOB))
                    got = q(c, f"SELECT COUNT(*), SUM(b), MIN(t), SUM(LENGTH(bl)), @@time_zone "
                            f"FROM {T} WHERE i = %s AND id >= 1000", (k,))
                    eq(got, (j + 1, j * (j + 1) // 2, TEXT, (j + 1) * len(BLOB), tz),
                       "client %d txn %d" % (k, j))
                    c.commit()
                # and a statement on its own, outside any transaction
                c.autocommit(True)
                eq(q(c, "SELECT LENGTH(%s)", (BLOB,)), (len(BLOB),),
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
        c = connect(True)
        eq(q(c, f"SELECT COUNT(*) FROM {T} WHERE id >= 1000"), (CLIENTS * TXNS,),
           "rows of all clients")
        c.close()

    tap = Tap(name)
    tap.case("setup", setup)
    tap.case("types", types)
    tap.case("error", error)
    tap.case("rollback", rollback)
    tap.case("large", large)
    tap.case("concurrent", concurrent)
    tap.done()
