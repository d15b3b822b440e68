// tap.js -- what every Node.js driver script of the driver matrix shares: its command line,
// TAP-like output (one "ok N - case" or "not ok N - case" line per case, "# " lines saying
// why, "1..N" at the end, exit 1 on any failure), the test values and a barrier with a bound.
// A case is an async function that throws on the first wrong result; the next case runs
// anyway, on a connection of its own: every connection a case opens goes through track(), and
// whatever a failed case left open is closed before the next starts (a client left in a
// transaction would hold one of the pool's servers).
'use strict';
const crypto = require('crypto');
const assert = require('assert');

const TEXT = 'grüße, 東京, ✓ naïve';
const BIGINT = '9007199254740993'; // 2^53 + 1: wrong if a driver goes through a double
const NUMERIC = '12345678.901234';
const TIMESTAMP = '2024-02-29 13:45:56.123456';
const BYTES = Buffer.alloc(1024, 0).map((_, i) => i % 256);
const CLIENTS = 12; // concurrent connections on a pool of 3 servers
// Each concurrent transaction stores a 64 KiB value: a statement bigger than a pooler's I/O
// buffer (weir's are 32 KiB) that arrives while its client waits for a server.
const BLOB = Buffer.alloc(65536).map((_, i) => i % 256);
const TXNS = 5; // transactions each
const ROWS = 50000; // rows of the large result
// The large value: TEXT repeated by the server to 5 MB (a result bigger than any buffer),
// and a 1 MiB parameter the server hashes.
const BIG_REPEAT = Math.floor((5 * 1024 * 1024) / Buffer.byteLength(TEXT)) + 1;
const BIG_TEXT = TEXT.repeat(BIG_REPEAT);
const UPLOAD = 1024 * 1024;

const opened = [];

// track(conn, close) -> conn; close() runs at the end of the current case.
function track(conn, close) {
  opened.push(close);
  return conn;
}

function args() {
  const a = process.argv.slice(2);
  if (a.length !== 6 || !['session', 'transaction'].includes(a[5])) {
    process.stderr.write(`usage: ${process.argv[1]} HOST PORT USER PASSWORD DBNAME session|transaction\n`);
    process.exit(2);
  }
  return { host: a[0], port: Number(a[1]), user: a[2], password: a[3], db: a[4], mode: a[5] };
}

// UPLOAD bytes that are not all alike, and their md5 in hex.
function uploadValue() {
  const chunk = crypto.createHash('sha256').update('weir').digest();
  const v = Buffer.alloc(UPLOAD);
  for (let i = 0; i < UPLOAD; i += chunk.length) chunk.copy(v, i);
  return [v, crypto.createHash('md5').update(v).digest('hex')];
}

function md5(s) {
  return crypto.createHash('md5').update(String(s)).digest('hex');
}

function eq(got, want, what) {
  assert.deepStrictEqual(got, want, what);
}

function check(cond, what) {
  if (!cond) throw new Error(what);
}

// rejects(promise, code, what): the promise must fail with that error code (SQLSTATE or
// MySQL error name).
async function rejects(p, code, what) {
  let err = null;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  check(err, `${what}: succeeded, want error ${code}`);
  check(err.code === code, `${what}: got ${brief(err)}, want error ${code}`);
}

// An error in one line: its code (SQLSTATE or MySQL error name) and the first line of its
// message.
function brief(e) {
  const code = e.code || e.errno || (e.constructor && e.constructor.name) || 'Error';
  return `${code}: ${String(e.message || e).split('\n')[0]}`;
}

// barrier(n, timeoutMs): wait() resolves once n callers are waiting; rejects on timeout or
// after abort().
function barrier(n, timeoutMs) {
  let count = 0;
  let waiters = [];
  let broken = null;
  return {
    wait() {
      if (broken) return Promise.reject(broken);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => this.abort(new Error(`barrier timeout after ${timeoutMs} ms`)), timeoutMs);
        waiters.push({ resolve, reject, t });
        if (++count === n) {
          for (const w of waiters) { clearTimeout(w.t); w.resolve(); }
          waiters = [];
          count = 0;
        }
      });
    },
    abort(err) {
      broken = err || new Error('barrier broken');
      for (const w of waiters) { clearTimeout(w.t); w.reject(broken); }
      waiters = [];
    },
  };
}

// concurrently(worker): runs worker(k) for k < CLIENTS; in transaction mode worker gets a
// barrier to wait on after connecting and before closing (so twelve open connections share
// three servers), in session mode a barrier that never waits. Throws the first real error.
async function concurrently(mode, worker) {
  const b = mode === 'transaction' ? barrier(CLIENTS, 60000) : { wait: async () => {}, abort() {} };
  const res = await Promise.allSettled(
    [...Array(CLIENTS).keys()].map((k) => worker(k, b).catch((e) => { b.abort(); throw e; })));
  const errs = res.map((r, k) => (r.status === 'rejected' ? `client ${k}: ${brief(r.reason)}` : null))
    .filter((x) => x);
  const real = errs.filter((e) => !/barrier/.test(e));
  check(errs.length === 0, (real.length ? real : errs).slice(0, 3).join('; '));
}

class Tap {
  constructor() { this.n = 0; this.failed = 0; this.cases = []; }

  case(name, fn) { this.cases.push([name, fn]); }

  async run() {
    for (const [name, fn] of this.cases) {
      this.n++;
      const t0 = process.hrtime.bigint();
      const secs = () => (Number(process.hrtime.bigint() - t0) / 1e9).toFixed(2);
      try {
        await fn();
        console.log(`ok ${this.n} - ${name} (${secs()} s)`);
      } catch (e) {
        this.failed++;
        console.log(`not ok ${this.n} - ${name} (${secs()} s)`);
        const code = e.code || e.errno || e.name || 'Error';
        const msg = `${code}: ${e.message || e}`.split('\n').slice(0, 15);
        const stack = (e.stack || '').split('\n').filter((l) => /^\s+at /.test(l)).slice(0, 4);
        for (const line of [...msg, ...stack]) console.log(`#   ${line.slice(0, 2000)}`);
      }
      for (const close of opened.splice(0)) {
        // already closed, or broken: closing is all that is asked, within 5 s
        await Promise.race([Promise.resolve().then(close).catch(() => {}),
          new Promise((r) => setTimeout(r, 5000).unref())]);
      }
    }
    console.log(`1..${this.n}`);
    process.exit(this.failed ? 1 : 0);
  }
}

module.exports = { track, TEXT, BIGINT, NUMERIC, TIMESTAMP, BYTES, BLOB, CLIENTS, TXNS, ROWS, BIG_REPEAT, BIG_TEXT, args, uploadValue,
  md5, eq, check, rejects, brief, barrier, concurrently, Tap };
