import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { exchange } from '../../../test/fixtures/entra.js';
import { type PostgresServer, startPostgres } from '../../../test/helpers/postgres.js';
import { entra } from '../../../test/helpers/traffic.js';
import { classify } from '../../scim/classify.js';
import type { Exchange } from '../../scim/types.js';
import { createOperationsLog } from './log.js';
import { createPgLogWrite, isRetryablePgError } from './log-write.js';
import { migratePostgres } from './migrate.js';
import { createPool, type Pool } from './pool.js';
import { type AsyncRecorder, createAsyncRecorder } from './recorder.js';

// Recording into a real PostgreSQL server, through its outages: forwarding's side (`record`) never waits or
// throws; while the server is down the queue keeps what it can and counts the rest as dropped; when it is back,
// what was kept lands, once each. Nothing recorded is unaccounted for: written + dropped = recorded.

let server: PostgresServer;
const pools: Pool[] = [];
const recorders: AsyncRecorder[] = [];

beforeAll(async () => {
  server = await startPostgres();
}, 60_000);
afterEach(async () => {
  for (const r of recorders.splice(0)) await r.stop({ deadlineMs: 0 });
});
afterAll(async () => {
  await Promise.all(pools.map((p) => p.end()));
  await server?.stop();
});

async function setup(options: { maxQueue?: number; maxBatch?: number } = {}) {
  const pool = createPool(await server.createDatabase(), {
    max: 2,
    connectionTimeoutMs: 1_000,
    onError() {},
  });
  pools.push(pool);
  await migratePostgres(pool);
  const write = createPgLogWrite({
    log: createOperationsLog(pool),
    classify: (e) => classify(e, { capture: 'redacted', redact: ['password'] }),
  });
  const recorder = createAsyncRecorder({
    write,
    retryable: isRetryablePgError,
    flushIntervalMs: 20,
    ...options,
  });
  recorders.push(recorder);
  recorder.start();
  const rows = async () => Number((await pool.query('select count(*) as n from operations')).rows[0].n);
  return { pool, recorder, rows };
}

const users = (n: number, from = 0): Exchange[] =>
  Array.from({ length: n }, (_, i) =>
    entra.createUser(Date.UTC(2025, 0, 15, 9) + i, `user${from + i}@contoso.example`, `u-${from + i}`),
  );

async function until(what: () => boolean | Promise<boolean>, ms = 20_000) {
  const deadline = Date.now() + ms;
  while (!(await what())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('recording into PostgreSQL', () => {
  it('writes every exchange with its body; a NUL in a hostile request does not cost its batch', async () => {
    const { pool, recorder, rows } = await setup();
    for (const e of users(120)) recorder.record(e);
    recorder.record(
      exchange({ path: '/scim/v2/Users/evil\0id', reqBody: '{"userName":"a\0b"}', method: 'PUT' }),
    );
    await recorder.flush();
    expect(recorder.stats()).toMatchObject({ written: 121, dropped: 0, queued: 0, failing: false });
    expect(await rows()).toBe(121);
    const { rows: evil } = await pool.query(
      `select o.path, b.request_body from operations o join bodies b on b.operation_id = o.id
        where o.http_method = 'PUT'`,
    );
    expect(evil).toEqual([{ path: '/scim/v2/Users/evil\uFFFDid', request_body: '{"userName":"a\uFFFDb"}' }]);
    expect(Number((await pool.query('select count(*) as n from bodies')).rows[0].n)).toBe(121);
  });

  it('through a restart: keeps what the queue holds, counts the rest, then catches up', async () => {
    const { recorder, rows } = await setup({ maxQueue: 300, maxBatch: 50 });
    for (const e of users(100)) recorder.record(e);
    await until(() => recorder.stats().written === 100);

    await server.down();
    try {
      for (const e of users(500, 100)) recorder.record(e);
      await until(() => recorder.stats().failing);
      expect(recorder.stats()).toMatchObject({ queued: 300, dropped: 200, written: 100 });
      expect(recorder.stats().lastError).toBeTruthy();
    } finally {
      await server.up();
    }
    await until(() => recorder.stats().queued === 0);
    expect(recorder.stats()).toMatchObject({ written: 400, dropped: 200, failing: false });
    expect(await rows()).toBe(400);
  });

  it('drops only the row the server refuses, and writes the rest of its batch', async () => {
    const { pool, recorder, rows } = await setup();
    // A real refusal from the server, for one row: a constraint it enforces.
    await pool.query(`alter table operations add constraint no_evil check (path <> '/scim/v2/Users/evil')`);
    const batch = users(40);
    batch[17] = exchange({ path: '/scim/v2/Users/evil', method: 'DELETE', status: 204 });
    for (const e of batch) recorder.record(e);
    await recorder.flush();
    expect(recorder.stats()).toMatchObject({ written: 39, dropped: 1, queued: 0 });
    // The server's reason, not the statement and its thousand parameters.
    expect(recorder.stats().lastError).toMatch(
      /^new row for relation "operations" violates check constraint "no_evil"$/,
    );
    expect(await rows()).toBe(39);
  });

  it('stop writes what is queued, waiting out a short outage within its deadline', async () => {
    const { recorder, rows } = await setup();
    await server.down();
    for (const e of users(30)) recorder.record(e);
    const stopping = recorder.stop({ deadlineMs: 20_000 });
    await new Promise((r) => setTimeout(r, 300));
    await server.up();
    expect(await stopping).toBe(0);
    expect(recorder.stats()).toMatchObject({ written: 30, dropped: 0 });
    expect(await rows()).toBe(30);
    // After stop, nothing is queued that nothing would write: counted.
    recorder.record(users(1)[0] as Exchange);
    expect(recorder.stats().dropped).toBe(1);
  });
});

describe('which failures are tried again', () => {
  const pgError = (code: string) => Object.assign(new Error(code), { code });
  const wrapped = (cause: Error) => Object.assign(new Error('Failed query: insert ...'), { cause });
  it.each([
    ['connection refused', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), true],
    ['connection terminated (no code)', new Error('Connection terminated unexpectedly'), true],
    ['admin shutdown, wrapped by Drizzle', wrapped(pgError('57P01')), true],
    ['too many connections', pgError('53300'), true],
    ['disk full', pgError('53100'), true],
    ['read-only (a standby during failover)', pgError('25006'), true],
    ['check constraint, wrapped', wrapped(pgError('23514')), false],
    ['invalid byte sequence', pgError('22021'), false],
    ['undefined table', pgError('42P01'), false],
    ['a bug of ours', new TypeError('x is undefined'), false],
  ])('%s', (_, err, retry) => {
    expect(isRetryablePgError(err)).toBe(retry);
  });
});
