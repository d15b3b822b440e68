// my_mysql2.js -- mysql2 (npm) through weir with execute(): every statement a server-side
// prepared statement (COM_STMT_PREPARE once per connection, then COM_STMT_EXECUTE with binary
// results). mysql2 speaks the MySQL protocol without MariaDB's extensions. Usage: HOST PORT
// USER PASSWORD DBNAME MODE.
'use strict';
const mysql = require('mysql2/promise');
const t = require('./tap');

const A = t.args();
const T = `drv_mysql2_${A.mode}`;
const INS = `INSERT INTO ${T} (id, i, b, t, n, f, ts, bl) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`;
const SEL = `SELECT i, b, t, n, f, ts, bl FROM ${T} WHERE id = ?`;
const COUNT = `SELECT COUNT(*) AS n FROM ${T} WHERE id = ?`;
const ROW = [42, t.BIGINT, t.TEXT, t.NUMERIC, true, t.TIMESTAMP, t.BYTES];
// What comes back: BIGINT and DECIMAL as strings (bigNumberStrings), BOOLEAN as TINYINT 1,
// DATETIME as its text (dateStrings).
const BACK = [42, t.BIGINT, t.TEXT, t.NUMERIC, 1, t.TIMESTAMP, t.BYTES];
const NULLS = [null, null, null, null, null, null, null];

async function connect() {
  const c = await mysql.createConnection({ host: A.host, port: A.port, user: A.user,
    password: A.password, database: A.db, charset: 'utf8mb4', supportBigNumbers: true,
    bigNumberStrings: true, dateStrings: true, connectTimeout: 90000 });
  return t.track(c, () => c.destroy());
}

// x(c, sql, params) -> rows as arrays, through a prepared statement.
async function x(c, sql, params) {
  const [rows] = await c.execute({ sql, rowsAsArray: true }, params);
  return rows;
}

const count = async (c, id) => Number((await x(c, COUNT, [id]))[0][0]);
const tap = new t.Tap();

tap.case('setup', async () => {
  const c = await connect();
  await c.query(`DROP TABLE IF EXISTS ${T}`);
  await c.query(`CREATE TABLE ${T} (id INT PRIMARY KEY, i INT, b BIGINT, t VARCHAR(100),
    n DECIMAL(20,6), f BOOLEAN, ts DATETIME(6), bl LONGBLOB) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`);
  await c.end();
});

tap.case('types', async () => {
  const c = await connect();
  await c.beginTransaction();
  await x(c, INS, [1, ...ROW]);
  await x(c, INS, [2, ...NULLS]);
  await c.commit();
  for (let r = 0; r < 3; r++) {
    await c.beginTransaction();
    t.eq((await x(c, SEL, [1]))[0], BACK, `row 1, round ${r}`);
    t.eq((await x(c, SEL, [2]))[0], NULLS, `NULL row, round ${r}`);
    const [st] = await c.query("SHOW SESSION STATUS LIKE 'Com_stmt_prepare'");
    t.check(Number(st[0].Value) >= 1, `statements prepared on the server: ${st[0].Value}`);
    await c.commit();
  }
  const got = await x(c, 'SELECT CAST(? AS SIGNED), CAST(? AS SIGNED), CAST(? AS CHAR), '
    + 'CAST(? AS DECIMAL(20,6)), ? IS TRUE, CAST(? AS DATETIME(6)), CAST(? AS BINARY), ? IS NULL',
  [...ROW, null]);
  t.eq(got[0], ['42', ...BACK.slice(1), 1], 'parameters echoed');
  await c.end();
});

tap.case('error', async () => {
  const c = await connect();
  await t.rejects(x(c, INS, [1, ...ROW]), 'ER_DUP_ENTRY', 'duplicate key');
  t.eq((await x(c, 'SELECT ? + 1', [41]))[0], [42], 'a query after the error');
  await c.beginTransaction();
  await x(c, INS, [10, ...ROW]);
  await t.rejects(x(c, 'SELECT * FROM no_such_table', []), 'ER_NO_SUCH_TABLE', 'missing table');
  t.eq(await count(c, 10), 1, 'row of the transaction after the error');
  await c.rollback();
  t.eq(await count(c, 10), 0, 'row after the rollback');
  await c.end();
});

tap.case('rollback', async () => {
  let c = await connect();
  await c.beginTransaction();
  await x(c, INS, [100, ...ROW]);
  t.eq(await count(c, 100), 1, 'row inside the transaction');
  await c.rollback();
  t.eq(await count(c, 100), 0, 'row after the rollback');
  await c.beginTransaction();
  await x(c, INS, [101, ...ROW]);
  await c.commit();
  await c.end();
  c = await connect();
  t.eq(await count(c, 100), 0, 'rolled-back row, new connection');
  t.eq(await count(c, 101), 1, 'committed row, new connection');
  await c.end();
});

tap.case('large', async () => {
  const c = await connect();
  const rows = await x(c, 'SELECT seq, MD5(seq) FROM seq_1_to_100000 WHERE seq <= ?', [t.ROWS]);
  t.eq(rows.length, t.ROWS, 'rows');
  t.eq(rows.reduce((s, r) => s + Number(r[0]), 0), (t.ROWS * (t.ROWS + 1)) / 2, 'sum of the rows');
  t.eq(rows[t.ROWS - 1][1], t.md5(t.ROWS), 'last row');
  const big = (await x(c, 'SELECT REPEAT(?, ?)', [t.TEXT, t.BIG_REPEAT]))[0][0];
  t.check(big === t.BIG_TEXT, `5 MB value: ${big.length} characters, want ${t.BIG_TEXT.length}`);
  const [v, h] = t.uploadValue();
  const got = await x(c, 'SELECT MD5(x), LENGTH(x) FROM (SELECT CAST(? AS BINARY) AS x) s', [v]);
  t.eq([got[0][0], Number(got[0][1])], [h, v.length], '1 MiB parameter as the server saw it');
  await c.end();
});

tap.case('concurrent', async () => {
  await t.concurrently(A.mode, async (k, barrier) => {
    const c = await connect();
    const tz = `+${String(k).padStart(2, '0')}:00`; // session state of this client's own
    try {
      await c.query('SET time_zone = ?', [tz]);
      await barrier.wait();
      for (let j = 0; j < t.TXNS; j++) {
        await c.beginTransaction();
        await x(c, INS, [1000 + 100 * k + j, k, j, t.TEXT, t.NUMERIC, true, t.TIMESTAMP, t.BLOB]);
        const got = await x(c, `SELECT COUNT(*), SUM(b), MIN(t), SUM(LENGTH(bl)), @@time_zone
          FROM ${T} WHERE i = ? AND id >= 1000`, [k]);
        t.eq(got[0].map(String),
          [j + 1, (j * (j + 1)) / 2, t.TEXT, (j + 1) * t.BLOB.length, tz].map(String),
          `client ${k} txn ${j}`);
        await c.commit();
      }
      // and a statement on its own, outside any transaction
      t.eq((await x(c, 'SELECT LENGTH(?)', [t.BLOB]))[0].map(Number), [t.BLOB.length],
        `client ${k}: statement outside a transaction`);
      await barrier.wait();
    } finally {
      await c.end();
    }
  });
  const c = await connect();
  t.eq(Number((await c.query(`SELECT COUNT(*) AS n FROM ${T} WHERE id >= 1000`))[0][0].n),
    t.CLIENTS * t.TXNS, 'rows of all clients');
  await c.end();
});

tap.run();
