// node-postgres compatibility check for sqlink, run by
// tests/e2e/compat_clients_test.go: node compat.js (connection from the
// PG* environment variables). Every check throws on failure; "OK" on the
// last line means all passed.
'use strict';
const assert = require('assert/strict');
const { Client } = require('pg');

async function main() {
  const c = new Client();
  await c.connect();
  await c.query(`CREATE TABLE types (id BIGINT PRIMARY KEY, b BOOLEAN, i2 SMALLINT, i4 INTEGER, i8 BIGINT, f8 DOUBLE PRECISION,
    n NUMERIC, t TEXT, by BYTEA, d DATE, ts TIMESTAMP, tz TIMESTAMPTZ, u UUID, j JSON, jb JSONB)`);
  const bytes = Buffer.from([0, 1, 255, 254]);
  const tz = new Date(Date.UTC(2026, 11, 5, 12, 34, 56, 789));
  const row = [1, true, -32768, 2147483647, '-9223372036854775808', -1.5e300, '12345.5', 'héllo ✓ 世界', bytes,
    '2026-12-05', '2026-12-05 12:34:56.123456', tz, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', { a: [1, 2] }, { b: 'c' }];
  await c.query('INSERT INTO types VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)', row);
  await c.query('INSERT INTO types (id) VALUES ($1)', [2]);

  const r = await c.query('SELECT b, i2, i4, i8, f8, n, t, by, d, ts, tz, u, j, jb FROM types WHERE id = $1', [1]);
  const g = r.rows[0];
  assert.equal(g.b, true, 'boolean');
  assert.equal(g.i2, -32768, 'smallint is a number');
  assert.equal(g.i4, 2147483647, 'integer is a number');
  assert.equal(g.i8, '-9223372036854775808', 'bigint is a string (node-postgres keeps 64 bits)');
  assert.equal(g.f8, -1.5e300, 'double');
  assert.equal(g.n, '12345.5', 'numeric is a string');
  assert.equal(g.t, 'héllo ✓ 世界', 'text');
  assert.ok(Buffer.isBuffer(g.by), 'bytea is a Buffer');
  assert.deepEqual([...g.by], [0, 1, 255, 254], 'bytea bytes');
  assert.ok(g.d instanceof Date, 'date is a Date');
  assert.ok(g.ts instanceof Date, 'timestamp is a Date');
  assert.equal(g.tz.getTime(), tz.getTime(), 'timestamptz');
  assert.equal(g.u, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'uuid');
  assert.deepEqual(g.j, { a: [1, 2] }, 'json is parsed');
  assert.deepEqual(g.jb, { b: 'c' }, 'jsonb is parsed');

  const nulls = await c.query('SELECT b, i2, i4, i8, f8, n, t, by, d, ts, tz, u, j, jb FROM types WHERE id = $1', [2]);
  for (const [k, v] of Object.entries(nulls.rows[0])) assert.equal(v, null, `NULL ${k}`);

  // A boolean stored as a boolean: WHERE b and WHERE b = true match.
  assert.equal((await c.query('SELECT id FROM types WHERE b')).rowCount, 1, 'WHERE b');
  assert.equal((await c.query('SELECT id FROM types WHERE b = true')).rowCount, 1, 'WHERE b = true');
  assert.equal((await c.query('SELECT id FROM types WHERE b = $1', [true])).rowCount, 1, 'WHERE b = $1');
  assert.equal((await c.query('SELECT id FROM types WHERE by = $1', [bytes])).rowCount, 1, 'WHERE by = $1');
  assert.equal((await c.query('SELECT typeof(b) AS t FROM types WHERE id = 1')).rows[0].t, 'integer', 'boolean stored as an integer');
  assert.equal((await c.query('SELECT typeof(by) AS t FROM types WHERE id = 1')).rows[0].t, 'blob', 'bytea stored as a blob');

  // A value not of the column's type is refused, naming the column.
  await assert.rejects(c.query('INSERT INTO types (id, b) VALUES ($1, $2)', [3, 'maybe']),
    (e) => e.code === '22P02' && /column "b"/.test(e.message), 'bad boolean');
  await assert.rejects(c.query('UPDATE types SET i4 = $1 WHERE id = 1', ['x']),
    (e) => e.code === '22P02' && /column "i4"/.test(e.message), 'bad integer');

  // Expression columns.
  const e = await c.query('SELECT count(*), 1 + 1 AS two, upper($1) AS up FROM types', ['x']);
  assert.equal(e.fields[0].name, 'count', 'count(*) column name');
  assert.equal(e.rows[0].count, '2', 'count is a bigint (a string in node-postgres)');
  assert.equal(e.rows[0].two, '2', '1 + 1 is a bigint');
  assert.equal(e.rows[0].up, 'X', 'upper');

  // Prepared (named) statements.
  for (let i = 10; i < 20; i++) {
    await c.query({ name: 'ins', text: 'INSERT INTO types (id, i4) VALUES ($1, $2)', values: [i, i * 2] });
  }
  const p = await c.query({ name: 'sel', text: 'SELECT sum(i4) AS s FROM types WHERE id >= $1', values: [10] });
  assert.equal(p.rows[0].s, '290', 'prepared statements');

  // RETURNING: declared and expression columns are typed.
  const ret = await c.query('INSERT INTO types (id, b, t) VALUES ($1, $2, $3) RETURNING id, b, upper(t) AS u, t || $4 AS x', [100, true, 'a', 'z']);
  assert.deepEqual(ret.rows[0], { id: '100', b: true, u: 'A', x: 'az' }, 'RETURNING');
  assert.deepEqual(ret.fields.map((f) => f.dataTypeID), [20, 16, 25, 25], 'RETURNING types');

  // Transactions.
  await c.query('CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE)');
  await c.query('BEGIN');
  await c.query('INSERT INTO t VALUES (1, $1)', ['a']);
  await c.query('ROLLBACK');
  assert.equal((await c.query('SELECT * FROM t')).rowCount, 0, 'rollback');
  await c.query('BEGIN');
  await c.query('INSERT INTO t VALUES (1, $1)', ['a']);
  await assert.rejects(c.query('INSERT INTO t VALUES (2, $1)', ['a']), (err) => err.code === '23505', 'unique violation');
  await assert.rejects(c.query('SELECT 1'), (err) => err.code === '25P02', 'failed transaction');
  await c.query('ROLLBACK');
  assert.equal((await c.query('SELECT * FROM t')).rowCount, 0, 'after failed transaction');

  // 100k rows.
  await c.query('CREATE TABLE bulk (id BIGINT PRIMARY KEY, v TEXT)');
  await c.query('BEGIN');
  for (let i = 0; i < 100000; i += 500) {
    const vals = [];
    const params = [];
    for (let j = i; j < i + 500; j++) {
      params.push(`($${vals.length + 1}, $${vals.length + 2})`);
      vals.push(j, `v${j}`);
    }
    await c.query(`INSERT INTO bulk (id, v) VALUES ${params.join(', ')}`, vals);
  }
  await c.query('COMMIT');
  const all = await c.query('SELECT id, v FROM bulk ORDER BY id');
  assert.equal(all.rowCount, 100000, 'bulk rows');
  all.rows.forEach((x, i) => { if (x.v !== `v${i}`) throw new Error(`bulk row ${i}: ${x.v}`); });

  // A server-side cursor: DECLARE, then FETCH in batches.
  await c.query('BEGIN');
  await c.query('DECLARE bc CURSOR FOR SELECT id FROM bulk WHERE id < $1 ORDER BY id', [25000]);
  let fetched = 0;
  for (;;) {
    const r = await c.query('FETCH 1000 FROM bc');
    if (r.rowCount === 0) break;
    r.rows.forEach((x) => { if (Number(x.id) !== fetched) throw new Error(`cursor row ${fetched}: ${x.id}`); fetched++; });
  }
  await c.query('CLOSE bc');
  await c.query('COMMIT');
  assert.equal(fetched, 25000, 'rows through a server-side cursor');

  await c.end();
  console.log('OK');
}

main().catch((err) => { console.error(err); process.exit(1); });
