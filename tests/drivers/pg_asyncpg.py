# pg_asyncpg.py -- asyncpg (Debian's python3-asyncpg) through weir: every query with
# parameters is a named server-side prepared statement (asyncpg's statement cache), binary
# results, twelve connections as asyncio tasks. Usage: HOST PORT USER PASSWORD DBNAME MODE.
import asyncio
import hashlib

import asyncpg

from drvtap import (BIG_REPEAT, BIG_TEXT, BIGINT, BLOB, BYTES, CLIENTS, NUMERIC, ROWS, TEXT, TIMESTAMP,
                    TXNS, Tap, args, brief, check, eq, track, upload_value)

A = args()
TXN = A["mode"] == "transaction"
T = "drv_asyncpg_" + A["mode"]
INS = f"INSERT INTO {T} (id, i, b, t, n, f, ts, by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
SEL = f"SELECT i, b, t, n, f, ts, by FROM {T} WHERE id = $1"
COUNT = f"SELECT count(*) FROM {T} WHERE id = $1"
ROW = (42, BIGINT, TEXT, NUMERIC, True, TIMESTAMP, BYTES)
loop = asyncio.new_event_loop()


async def connect(app="drv-asyncpg"):
    c = await asyncpg.connect(host=A["host"], port=A["port"], user=A["user"],
                              password=A["password"], database=A["db"], ssl=False, timeout=30,
                              server_settings={"application_name": app})
    return track(c, c.terminate)


def sync(fn):
    return lambda: loop.run_until_complete(asyncio.wait_for(fn(), 120))


@sync
async def setup():
    c = await connect()
    await c.execute(f"DROP TABLE IF EXISTS {T}")
    await c.execute(f"CREATE TABLE {T} (id int PRIMARY KEY, i int, b bigint, t text, "
                    "n numeric(20,6), f boolean, ts timestamp, by bytea)")
    await c.close()


@sync
async def types():
    c = await connect()
    async with c.transaction():
        await c.execute(INS, 1, *ROW)
        await c.execute(INS, 2, *(None,) * 7)
    sel = await c.prepare(SEL)
    for r in range(3):
        async with c.transaction():
            eq(tuple(await sel.fetchrow(1)), ROW, "row 1, round %d" % r)
            eq(tuple(await c.fetchrow(SEL, 2)), (None,) * 7, "NULL row, round %d" % r)
            names = await c.fetchval("SELECT count(*) FROM pg_prepared_statements")
            check(names >= 1, "server-side statements on the server: %d" % names)
    got = await c.fetchrow("SELECT $1::int, $2::bigint, $3::text, $4::numeric, $5::boolean, "
                           "$6::timestamp, $7::bytea, $8::text IS NULL", *ROW, None)
    eq(tuple(got), ROW + (True,), "parameters echoed")
    await c.close()


@sync
async def error():
    c = await connect()
    try:
        await c.fetchval("SELECT 1 / $1::int", 0)
        check(False, "division by zero succeeded")
    except asyncpg.exceptions.DivisionByZeroError:
        pass
    eq(await c.fetchval("SELECT $1::int + 1", 41), 42, "a query after the error")
    tr = c.transaction()
    await tr.start()
    await c.execute(INS, 10, *ROW)
    try:
        await c.fetch("SELECT * FROM no_such_table")
        check(False, "select from a missing table succeeded")
    except asyncpg.exceptions.UndefinedTableError:
        pass
    try:
        await c.fetchval(COUNT, 10)
        check(False, "a query in an aborted transaction succeeded")
    except asyncpg.exceptions.InFailedSQLTransactionError:
        pass
    await tr.rollback()
    eq(await c.fetchval(COUNT, 10), 0, "row of the failed transaction")
    await c.close()


@sync
async def rollback():
    c = await connect()
    tr = c.transaction()
    await tr.start()
    await c.execute(INS, 100, *ROW)
    eq(await c.fetchval(COUNT, 100), 1, "row inside the transaction")
    await tr.rollback()
    eq(await c.fetchval(COUNT, 100), 0, "row after the rollback")
    async with c.transaction():
        await c.execute(INS, 101, *ROW)
    await c.close()
    c = await connect()
    eq(await c.fetchval(COUNT, 100), 0, "rolled-back row, new connection")
    eq(await c.fetchval(COUNT, 101), 1, "committed row, new connection")
    await c.close()


@sync
async def large():
    c = await connect()
    rows = await c.fetch("SELECT g, md5(g::text) FROM generate_series(1, $1::int) g", ROWS)
    eq(len(rows), ROWS, "rows")
    eq(sum(r[0] for r in rows), ROWS * (ROWS + 1) // 2, "sum of the rows")
    eq(rows[-1][1], hashlib.md5(str(ROWS).encode()).hexdigest(), "last row")
    big = await c.fetchval("SELECT repeat($1::text, $2::int)", TEXT, BIG_REPEAT)
    check(big == BIG_TEXT, "5 MB value: %d characters, want %d" % (len(big), len(BIG_TEXT)))
    v, h = upload_value()
    got = await c.fetchrow("SELECT md5(x), length(x) FROM (SELECT $1::bytea AS x) s", v)
    eq(tuple(got), (h, len(v)), "1 MiB parameter as the server saw it")
    await c.close()


@sync
async def concurrent():
    # Transaction mode: all connections are open before any starts and none closes before
    # all are done, so 12 clients really share 3 servers. Session mode: each runs and closes
    # while the others wait for a server.
    barrier = asyncio.Barrier(CLIENTS)

    async def worker(k):
        c = await connect("drv-client-%d" % k)
        try:
            if TXN:
                await asyncio.wait_for(barrier.wait(), 60)
            for j in range(TXNS):
                async with c.transaction():
                    await c.execute(INS, 1000 + 100 * k + j, k, j, TEXT, NUMERIC, True,
                                    TIMESTAMP, BLOB)
                    got = await c.fetchrow(f"SELECT count(*), sum(b), min(t), sum(length(by)), "
                                           f"current_setting('application_name') FROM {T} "
                                           "WHERE i = $1 AND id >= 1000", k)
                    eq(tuple(got), (j + 1, j * (j + 1) // 2, TEXT, (j + 1) * len(BLOB),
                                    "drv-client-%d" % k),
                       "client %d txn %d" % (k, j))
            # and a statement on its own, outside any transaction
            eq(await c.fetchval("SELECT length($1::bytea)", BLOB), len(BLOB),
               "client %d: statement outside a transaction" % k)
            if TXN:
                await asyncio.wait_for(barrier.wait(), 60)
        except Exception:
            await barrier.abort()
            raise
        finally:
            await c.close(timeout=10)

    res = await asyncio.gather(*(worker(k) for k in range(CLIENTS)), return_exceptions=True)
    errs = ["client %d: %s" % (k, brief(e))
            for k, e in enumerate(res) if isinstance(e, BaseException)]
    real = [e for e in errs if "BrokenBarrierError" not in e]
    check(not errs, "; ".join((real or errs)[:3]))
    c = await connect()
    eq(await c.fetchval(f"SELECT count(*) FROM {T} WHERE id >= 1000"), CLIENTS * TXNS,
       "rows of all clients")
    await c.close()


tap = Tap("asyncpg")
tap.case("setup", setup)
tap.case("types", types)
tap.case("error", error)
tap.case("rollback", rollback)
tap.case("large", large)
tap.case("concurrent", concurrent)
tap.done()
