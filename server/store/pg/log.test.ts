import { getTableColumns } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PostgresServer, startPostgres } from '../../../test/helpers/postgres.js';
import { bodies, operations } from '../schema-pg/operations.js';
import {
  createOperationsLog,
  formatCursor,
  insertedColumns,
  insertOperationsIn,
  type LogCursor,
  logStart,
  type NewOperation,
  parseCursor,
} from './log.js';
import { migratePostgres } from './migrate.js';
import { createPool, type Pool } from './pool.js';

const op = (path: string, body?: NewOperation['body']): NewOperation => ({
  time: Date.now(),
  durationMs: 3,
  httpMethod: 'GET',
  path,
  resourceType: 'User',
  operation: 'lookup',
  provisioningAction: 'other',
  status: 'success',
  body,
});

describe('the operations log on PostgreSQL', () => {
  let server: PostgresServer;
  const pools: Pool[] = [];
  const freshLog = async () => {
    const pool = createPool(await server.createDatabase(), { max: 8 });
    pools.push(pool);
    await migratePostgres(pool);
    return { pool, log: createOperationsLog(pool) };
  };
  beforeAll(async () => {
    server = await startPostgres();
  });
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.end()));
    await server?.stop();
  });

  // The insert names its columns itself (one array per column): a column added to the schema must be added to it.
  it('writes every column of operations (but txid) and bodies', () => {
    const names = (table: typeof operations | typeof bodies) =>
      Object.values(getTableColumns(table)).map((c) => c.name);
    expect([...insertedColumns.operations, 'txid'].sort()).toEqual(names(operations).sort());
    expect([...insertedColumns.bodies].sort()).toEqual(names(bodies).sort());
  });

  // Each value lands in its own column, and what a row leaves out takes the schema's default.
  it('reads back what it wrote, column for column', async () => {
    const { pool, log } = await freshLog();
    const full: NewOperation = {
      time: 1_736_931_600_123,
      durationMs: 42,
      cycleId: 7,
      identityId: 9,
      httpMethod: 'PATCH',
      path: '/scim/v2/Users/u-1',
      query: 'attributes=userName',
      httpStatus: 409,
      resourceType: 'User',
      operation: 'update',
      provisioningAction: 'update',
      status: 'failure',
      identityType: 'User',
      identity: 'ada@contoso.example',
      externalId: 'ext-1',
      targetId: 'u-1',
      errorCode: 'EntryConflict',
      scimType: 'uniqueness',
      reason: 'userName is not unique',
      modifiedProperties: '[{"name":"active","value":"True"}]',
      members: '[{"op":"add","ids":["u-2"]}]',
      requestBytes: 120,
      responseBytes: 80,
      tokenFingerprint: '1a2b3c4d5e6f',
      clientIp: '20.190.128.10',
      userAgent: 'Azure AD SCIM',
      clientKind: 'unrecognised',
      body: {
        requestBody: '{"a":1}',
        requestTruncated: true,
        responseBody: '{"b":2}',
        responseTruncated: false,
      },
    };
    const [a, b] = await log.insertOperations([full, op('/defaults')]);
    const db = drizzle(pool);
    const rows = await db.select().from(operations).orderBy(operations.id);
    const { body, ...fields } = full;
    expect(rows[0]).toEqual({ ...fields, id: a, txid: expect.any(String) });
    expect(rows[1]).toMatchObject({
      id: b,
      query: '',
      cycleId: null,
      httpStatus: null,
      modifiedProperties: '[]',
      members: '[]',
      requestBytes: 0,
      responseBytes: 0,
      clientKind: 'provisioning',
    });
    expect(await db.select().from(bodies)).toEqual([{ ...body, operationId: a, time: full.time }]);
  });

  // The case a plain "id > cursor" reader gets wrong: id 2 commits while id 1's transaction is still open.
  it('does not read past a lower id whose transaction has not committed yet', async () => {
    const { pool, log } = await freshLog();
    const a = await pool.connect();
    await a.query('begin');
    expect(await insertOperationsIn(a, [op('/a')])).toEqual([1]);
    expect(await log.insertOperations([op('/b')])).toEqual([2]);

    const early = await log.readAfter(logStart, 10);
    expect(early.operations).toEqual([]);
    expect(early.cursor).toEqual(logStart);

    await a.query('commit');
    a.release();
    const read = await log.readAfter(logStart, 10);
    expect(read.operations.map((o) => [o.id, o.path])).toEqual([
      [1, '/a'],
      [2, '/b'],
    ]);
    expect((await log.readAfter(read.cursor, 10)).operations).toEqual([]);
  });

  // A rolled-back batch holds nobody back once it is gone, and its ids are simply never seen.
  it('moves on past a rolled-back transaction', async () => {
    const { pool, log } = await freshLog();
    const a = await pool.connect();
    await a.query('begin');
    await insertOperationsIn(a, [op('/gone')]);
    await log.insertOperations([op('/kept')]);
    await a.query('rollback');
    a.release();
    const read = await log.readAfter(logStart, 10);
    expect(read.operations.map((o) => o.path)).toEqual(['/kept']);
  });

  // Bodies land with their own operation's id; a batch keeps its order; limit pages through.
  it('writes a batch with its bodies, in order, and pages by cursor', async () => {
    const { pool, log } = await freshLog();
    const ids = await log.insertOperations([
      op('/1', { requestBody: 'one', responseBody: 'uno' }),
      op('/2'),
      op('/3', { requestBody: 'three', requestTruncated: true }),
    ]);
    expect(ids).toEqual([1, 2, 3]);
    const b = await pool.query('select operation_id, request_body from bodies order by 1');
    expect(b.rows.map((r) => [Number(r.operation_id), r.request_body])).toEqual([
      [1, 'one'],
      [3, 'three'],
    ]);
    const first = await log.readAfter(logStart, 2);
    expect(first.operations.map((o) => o.path)).toEqual(['/1', '/2']);
    const persisted = parseCursor(formatCursor(first.cursor));
    expect(persisted).toEqual(first.cursor);
    expect((await log.readAfter(persisted, 2)).operations.map((o) => o.path)).toEqual(['/3']);
    expect(parseCursor(undefined)).toEqual(logStart);
  });

  // Many writers whose transactions overlap and commit out of id order, some rolling back, while a reader
  // polls: the reader gets every committed operation exactly once.
  it('loses and doubles nothing under concurrent writers', async () => {
    const { pool, log } = await freshLog();
    const committed: number[] = [];
    let writing = true;
    const writer = async (w: number) => {
      for (let t = 0; t < 15; t++) {
        const c = await pool.connect();
        try {
          await c.query('begin');
          const ids = await insertOperationsIn(
            c,
            Array.from({ length: 1 + ((w + t) % 4) }, (_, i) => op(`/${w}/${t}/${i}`)),
          );
          await new Promise((r) => setTimeout(r, Math.random() * 15));
          if ((w * 7 + t) % 10 === 0) {
            await c.query('rollback');
          } else {
            await c.query('commit');
            committed.push(...ids);
          }
        } finally {
          c.release();
        }
      }
    };
    const seen: number[] = [];
    const reader = async () => {
      let cursor: LogCursor = logStart;
      for (;;) {
        const done = !writing;
        const page = await log.readAfter(cursor, 7);
        seen.push(...page.operations.map((o) => o.id));
        cursor = page.cursor;
        if (page.operations.length === 0) {
          if (done) return;
          await new Promise((r) => setTimeout(r, 2));
        }
      }
    };
    const reading = reader();
    await Promise.all([0, 1, 2, 3, 4].map(writer));
    writing = false;
    await reading;
    expect(new Set(seen).size).toBe(seen.length);
    expect([...seen].sort((x, y) => x - y)).toEqual([...committed].sort((x, y) => x - y));
  });
});
