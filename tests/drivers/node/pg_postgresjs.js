// pg_postgresjs.js -- postgres.js (npm postgres) through weir: tagged-template queries, each a
// named server-side prepared statement (prepare: true, its default), sql.begin()
// transactions. Usage: HOST PORT USER PASSWORD DBNAME MODE.
'use strict';
const postgres = require('postgres');
const t = require('./tap');

const A = t.args();
const T = `drv_postgresjs_${A.mode}`;
const ROW = [42, t.BIGINT, t.TEXT, t.NUMERIC, true, t.TIMESTAMP, t.BYTES];
const NULLS = [null, null, null, null, null, null, null];
const ROLLBACK = new Error('roll back');

// One connection (max: 1); timestamps as their text, to the microsecond.
function connect(app = 'drv-postgresjs') {
  const sql = postgres({ host: A.host, port: A.port, user: A.user, pass: A.password, database: A.db,
    ssl: false, max: 1, prepare: true, connect_timeout: 30, idle_timeout: 0,
    onnotice: () => {}, connection: { application_name: app },
    types: { ts: { to: 1114, from: [1114], serialize: (x) => x, parse: (x) => x } } });
  return t.track(sql, () => sql.end({ timeout: 1 }));
}

const ins = (sql, id, r) => sql`INSERT INTO ${sql(T)} (id, i, b, t, n, f, ts, by)
  VALUES (${id}, ${r[0]}, ${r[1]}, ${r[2]}, ${r[3]}, ${r[4]}, ${r[5]}, ${r[6]})`;
const sel = (sql, id) => sql`SELECT i, b, t, n, f, ts, by FROM ${sql(T)} WHERE id = ${id}`.values();
const count = async (sql, id) =>
  (await sql`SELECT count(*)::int AS n FROM ${sql(T)} WHERE id = ${id}`)[0].n;

const tap = new t.Tap();

tap.case('setup', async () => {
  const sql = connect();
  await sql`DROP TABLE IF EXISTS ${sql(T)}`;
  await sql`CREATE TABLE ${sql(T)} (id int PRIMARY KEY, i int, b bigint, t text,
    n numeric(20,6), f boolean, ts timestamp, by bytea)`;
  await sql.end({ timeout: 5 });
});

tap.case('types', async () => {
  const sql = connect();
  await sql.begin(async (tx) => {
    await ins(tx, 1, ROW);
    await ins(tx, 2, NULLS);
  });
  for (let r = 0; r < 3; r++) {
    await sql.begin(async (tx) => {
      t.eq((await sel(tx, 1))[0], ROW, `row 1, round ${r}`);
      t.eq((await sel(tx, 2))[0], NULLS, `NULL row, round ${r}`);
      const n = (await tx`SELECT count(*)::int AS n FROM pg_prepared_statements`)[0].n;
      t.check(n >= 1, `server-side statements on the server: ${n}`);
    });
  }
  const got = await sql`SELECT ${ROW[0]}::int, ${ROW[1]}::bigint, ${ROW[2]}::text,
    ${ROW[3]}::numeric, ${ROW[4]}::boolean, ${ROW[5]}::timestamp, ${ROW[6]}::bytea,
    ${null}::text IS NULL`.values();
  t.eq(got[0], [...ROW, true], 'parameters echoed');
  await sql.end({ timeout: 5 });
});

tap.case('error', async () => {
  const sql = connect();
  await t.rejects(sql`SELECT 1 / ${0}::int`, '22012', 'division by zero');
  t.eq((await sql`SELECT ${41}::int + 1 AS v`)[0].v, 42, 'a query after the error');
  await t.rejects(sql.begin(async (tx) => {
    await ins(tx, 10, ROW);
    await tx`SELECT * FROM no_such_table`;
  }), '42P01', 'missing table in a transaction');
  t.eq(await count(sql, 10), 0, 'row of the failed transaction');
  await sql.end({ timeout: 5 });
});

tap.case('rollback', async () => {
  let sql = connect();
  let inside = null;
  try {
    await sql.begin(async (tx) => {
      await ins(tx, 100, ROW);
      inside = await count(tx, 100);
      throw ROLLBACK;
    });
  } catch (e) {
    if (e !== ROLLBACK) throw e;
  }
  t.eq(inside, 1, 'row inside the transaction');
  t.eq(await count(sql, 100), 0, 'row after the rollback');
  await sql.begin(async (tx) => ins(tx, 101, ROW));
  await sql.end({ timeout: 5 });
  sql = connect();
  t.eq(await count(sql, 100), 0, 'rolled-back row, new connection');
  t.eq(await count(sql, 101), 1, 'committed row, new connection');
  await sql.end({ timeout: 5 });
});

tap.case('large', async () => {
  const sql = connect();
  const rows = await sql`SELECT g, md5(g::text) FROM generate_series(1, ${t.ROWS}::int) g`.values();
  t.eq(rows.length, t.ROWS, 'rows');
  t.eq(rows.reduce((s, r) => s + r[0], 0), (t.ROWS * (t.ROWS + 1)) / 2, 'sum of the rows');
  t.eq(rows[t.ROWS - 1][1], t.md5(t.ROWS), 'last row');
  const big = (await sql`SELECT repeat(${t.TEXT}::text, ${t.BIG_REPEAT}::int)`.values())[0][0];
  t.check(big === t.BIG_TEXT, `5 MB value: ${big.length} characters, want ${t.BIG_TEXT.length}`);
  const [v, h] = t.uploadValue();
  const got = await sql`SELECT md5(x), length(x) FROM (SELECT ${v}::bytea AS x) s`.values();
  t.eq(got[0], [h, v.length], '1 MiB parameter as the server saw it');
  await sql.end({ timeout: 5 });
});

tap.case('concurrent', async () => {
  await t.concurrently(A.mode, async (k, barrier) => {
    const sql = connect(`drv-client-${k}`);
    try {
      await sql`SELECT 1`; // connects
      await barrier.wait();
      for (let j = 0; j < t.TXNS; j++) {
        await sql.begin(async (tx) => {
          await ins(tx, 1000 + 100 * k + j, [k, j, t.TEXT, t.NUMERIC, true, t.TIMESTAMP, t.BLOB]);
          const got = await tx`SELECT count(*)::int, sum(b)::int, min(t), sum(length(by))::int,
            current_setting('application_name') FROM ${tx(T)}
            WHERE i = ${k} AND id >= 1000`.values();
          t.eq(got[0], [j + 1, (j * (j + 1)) / 2, t.TEXT, (j + 1) * t.BLOB.length,
            `drv-client-${k}`],
            `client ${k} txn ${j}`);
        });
      }
      // and a statement on its own, outside any transaction
      t.eq((await sql`SELECT length(${t.BLOB}::bytea)`.values())[0], [t.BLOB.length],
        `client ${k}: statement outside a transaction`);
      await barrier.wait();
    } finally {
      await sql.end({ timeout: 5 });
    }
  });
  const sql = connect();
  t.eq((await sql`SELECT count(*)::int AS n FROM ${sql(T)} WHERE id >= 1000`)[0].n,
    t.CLIENTS * t.TXNS, 'rows of all clients');
  await sql.end({ timeout: 5 });
});

tap.run();
