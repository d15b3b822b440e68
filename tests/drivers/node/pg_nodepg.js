// pg_nodepg.js -- node-postgres (npm pg) through weir: named queries ({ name, text, values }),
// which pg prepares once per connection and then only binds. Usage: HOST PORT USER PASSWORD
// DBNAME MODE.
'use strict';
const { Client, types } = require('pg');
const t = require('./tap');

const A = t.args();
const T = `drv_nodepg_${A.mode}`;
const INS = `INSERT INTO ${T} (id, i, b, t, n, f, ts, by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`;
const SEL = `SELECT i, b, t, n, f, ts, by FROM ${T} WHERE id = $1`;
const COUNT = `SELECT count(*)::int AS n FROM ${T} WHERE id = $1`;
const ROW = [42, t.BIGINT, t.TEXT, t.NUMERIC, true, t.TIMESTAMP, t.BYTES];
types.setTypeParser(1114, (s) => s); // timestamp: the text, to the microsecond

async function connect(app = 'drv-nodepg') {
  const c = new Client({ host: A.host, port: A.port, user: A.user, password: A.password,
    database: A.db, ssl: false, connectionTimeoutMillis: 90000, application_name: app });
  t.track(c, () => c.end());
  await c.connect();
  return c;
}

// q(c, name, text, values) -> rows as arrays; a named query: prepared once per connection.
async function q(c, name, text, values) {
  const r = await c.query({ name, text, values, rowMode: 'array' });
  return r.rows;
}

const N = ['id'].concat([0, 1, 2, 3, 4, 5, 6].map(() => null));
const tap = new t.Tap();

tap.case('setup', async () => {
  const c = await connect();
  await c.query(`DROP TABLE IF EXISTS ${T}`);
  await c.query(`CREATE TABLE ${T} (id int PRIMARY KEY, i int, b bigint, t text, n numeric(20,6),
    f boolean, ts timestamp, by bytea)`);
  await c.end();
});

tap.case('types', async () => {
  const c = await connect();
  await c.query('BEGIN');
  await q(c, 'ins', INS, [1, ...ROW]);
  await q(c, 'ins', INS, [2, null, null, null, null, null, null, null]);
  await c.query('COMMIT');
  for (let r = 0; r < 3; r++) {
    await c.query('BEGIN');
    t.eq((await q(c, 'sel', SEL, [1]))[0], ROW, `row 1, round ${r}`);
    t.eq((await q(c, 'sel', SEL, [2]))[0], N.slice(1), `NULL row, round ${r}`);
    const n = (await c.query('SELECT count(*)::int AS n FROM pg_prepared_statements')).rows[0].n;
    t.check(n >= 1, `server-side statements on the server: ${n}`);
    await c.query('COMMIT');
  }
  const got = await q(c, 'echo', 'SELECT $1::int, $2::bigint, $3::text, $4::numeric, $5::boolean, '
    + '$6::timestamp, $7::bytea, $8::text IS NULL', [...ROW, null]);
  t.eq(got[0], [...ROW, true], 'parameters echoed');
  await c.end();
});

tap.case('error', async () => {
  const c = await connect();
  await t.rejects(q(c, 'div', 'SELECT 1 / $1::int', [0]), '22012', 'division by zero');
  t.eq((await q(c, 'plus', 'SELECT $1::int + 1', [41]))[0], [42], 'a query after the error');
  await c.query('BEGIN');
  await q(c, 'ins', INS, [10, ...ROW]);
  await t.rejects(c.query('SELECT * FROM no_such_table'), '42P01', 'missing table');
  await t.rejects(q(c, 'count', COUNT, [10]), '25P02', 'a query in the aborted transaction');
  await c.query('ROLLBACK');
  t.eq((await q(c, 'count', COUNT, [10]))[0], [0], 'row of the failed transaction');
  await c.end();
});

tap.case('rollback', async () => {
  let c = await connect();
  await c.query('BEGIN');
  await q(c, 'ins', INS, [100, ...ROW]);
  t.eq((await q(c, 'count', COUNT, [100]))[0], [1], 'row inside the transaction');
  await c.query('ROLLBACK');
  t.eq((await q(c, 'count', COUNT, [100]))[0], [0], 'row after the rollback');
  await c.query('BEGIN');
  await q(c, 'ins', INS, [101, ...ROW]);
  await c.query('COMMIT');
  await c.end();
  c = await connect();
  t.eq((await q(c, 'count', COUNT, [100]))[0], [0], 'rolled-back row, new connection');
  t.eq((await q(c, 'count', COUNT, [101]))[0], [1], 'committed row, new connection');
  await c.end();
});

tap.case('large', async () => {
  const c = await connect();
  const rows = await q(c, 'series', 'SELECT g, md5(g::text) FROM generate_series(1, $1::int) g',
    [t.ROWS]);
  t.eq(rows.length, t.ROWS, 'rows');
  t.eq(rows.reduce((s, r) => s + r[0], 0), (t.ROWS * (t.ROWS + 1)) / 2, 'sum of the rows');
  t.eq(rows[t.ROWS - 1][1], t.md5(t.ROWS), 'last row');
  const big = (await q(c, 'big', 'SELECT repeat($1::text, $2::int)', [t.TEXT, t.BIG_REPEAT]))[0][0];
  t.check(big === t.BIG_TEXT, `5 MB value: ${big.length} characters, want ${t.BIG_TEXT.length}`);
  const [v, h] = t.uploadValue();
  const got = await q(c, 'up', 'SELECT md5(x), length(x) FROM (SELECT $1::bytea AS x) s', [v]);
  t.eq(got[0], [h, v.length], '1 MiB parameter as the server saw it');
  await c.end();
});

tap.case('concurrent', async () => {
  await t.concurrently(A.mode, async (k, barrier) => {
    const c = await connect(`drv-client-${k}`);
    try {
      await barrier.wait();
      for (let j = 0; j < t.TXNS; j++) {
        await c.query('BEGIN');
        await q(c, 'ins', INS, [1000 + 100 * k + j, k, j, t.TEXT, t.NUMERIC, true, t.TIMESTAMP,
          t.BLOB]);
        const got = await q(c, 'sum', `SELECT count(*)::int, sum(b)::int, min(t),
          sum(length(by))::int, current_setting('application_name') FROM ${T}
          WHERE i = $1 AND id >= 1000`, [k]);
        t.eq(got[0], [j + 1, (j * (j + 1)) / 2, t.TEXT, (j + 1) * t.BLOB.length,
          `drv-client-${k}`],
          `client ${k} txn ${j}`);
        await c.query('COMMIT');
      }
      // and a statement on its own, outside any transaction
      t.eq((await q(c, 'len', 'SELECT length($1::bytea)', [t.BLOB]))[0], [t.BLOB.length],
        `client ${k}: statement outside a transaction`);
      await barrier.wait();
    } finally {
      await c.end();
    }
  });
  const c = await connect();
  t.eq((await c.query(`SELECT count(*)::int AS n FROM ${T} WHERE id >= 1000`)).rows[0].n,
    t.CLIENTS * t.TXNS, 'rows of all clients');
  await c.end();
});

tap.run();
