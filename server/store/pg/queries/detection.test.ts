import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BothStores, recordedOnBothStores } from '../../../../test/helpers/both-stores.js';
import { type PostgresServer, startPostgres } from '../../../../test/helpers/postgres.js';
import * as sqlite from '../../queries/detection.js';
import { type PgDb, pgDatabase } from '../db.js';
import { insertOperationsIn, type LogCursor, type NewOperation } from '../log.js';
import { migratePostgres } from '../migrate.js';
import { createPool, type Pool } from '../pool.js';
import * as pg from './detection.js';

// The twins of queries/detection.ts answer what SQLite answers over the same rows (a recording copied by
// migrate-store); and the replay follows PostgreSQL's log order, (txid, id), where it differs from id order.

let server: PostgresServer;
let both: BothStores;
const pools: Pool[] = [];
beforeAll(async () => {
  server = await startPostgres();
  both = await recordedOnBothStores(server, { cycles: 20, perCycle: 10 });
}, 120_000);
afterAll(async () => {
  await both?.close();
  await Promise.all(pools.map((p) => p.end()));
  await server?.stop();
});

const withoutTxid = <T extends { txid: string }>({ txid: _txid, ...row }: T) => row;

describe('detection reads, differential', () => {
  it('the last derived position: the copied cursor (a bare id) is the row with that id', async () => {
    const lastId = sqlite.lastDerivedOperationId(both.sqlite);
    expect(lastId).toBeGreaterThan(0);
    const at = await pg.lastDerivedPosition(both.pg);
    expect(at?.id).toBe(lastId);
    const { rows } = await both.pool.query<{ txid: string }>(
      'select txid::text from operations where id = $1',
      [lastId],
    );
    expect(at?.txid).toBe(rows[0]?.txid);
  });

  it('observedOperations: every derived row, in the order SQLite replays them, in chunks', async () => {
    const lastId = sqlite.lastDerivedOperationId(both.sqlite);
    const expected = sqlite.observedOperations(both.sqlite, 1, lastId + 1);
    const last = (await pg.lastDerivedPosition(both.pg)) as LogCursor;
    const read: ReturnType<typeof sqlite.observedOperations> = [];
    let from = { at: { txid: '0', id: 0 }, inclusive: true };
    for (;;) {
      const rows = await pg.observedOperations(both.pg, from, last, 37);
      read.push(...rows.map(withoutTxid));
      const end = rows.at(-1);
      if (!end) break;
      from = { at: { txid: end.txid, id: end.id }, inclusive: false };
    }
    expect(read).toEqual(expected);
    // the n-th newest derived row is SQLite's `lastId - n + 1`
    for (const n of [1, 2, 50, lastId])
      expect((await pg.nthDerivedBefore(both.pg, last, n))?.id).toBe(lastId - n + 1);
    expect(await pg.nthDerivedBefore(both.pg, last, lastId + 1)).toBeNull();
  });

  it('cycles: nth newest, first operation, last healthy, failure counts', async () => {
    for (let n = 0; n < 25; n++) {
      expect(await pg.nthNewestCycleId(both.pg, n)).toBe(sqlite.nthNewestCycleId(both.sqlite, n));
    }
    for (let id = 0; id <= 22; id++) {
      expect((await pg.firstPositionOfCycle(both.pg, id))?.id ?? null).toBe(
        sqlite.firstOperationIdOfCycle(both.sqlite, id),
      );
      expect(await pg.lastHealthyCycleBefore(both.pg, id)).toEqual(
        sqlite.lastHealthyCycleBefore(both.sqlite, id),
      );
      for (const after of [0, 3]) {
        expect(await pg.cycleFailureCounts(both.pg, after, id)).toEqual(
          sqlite.cycleFailureCounts(both.sqlite, after, id),
        );
      }
    }
  });

  it('stuck identities and their samples', async () => {
    for (const stuckCycles of [0, 1, 2, 3, 8, 9]) {
      const expected = sqlite.stuckIdentityRows(both.sqlite, stuckCycles);
      expect(await pg.stuckIdentityRows(both.pg, stuckCycles), `stuck ${stuckCycles}`).toEqual(expected);
    }
    expect(sqlite.stuckIdentityRows(both.sqlite, 1).length).toBeGreaterThan(0);
    for (const id of [0, 1, 2, 100, 150, 99_999]) {
      expect(await pg.operationSampleRow(both.pg, id)).toEqual(sqlite.operationSampleRow(both.sqlite, id));
    }
  });
});

const op = (path: string): NewOperation => ({
  time: 1_736_931_600_000,
  durationMs: 3,
  httpMethod: 'GET',
  path,
  resourceType: 'User',
  operation: 'lookup',
  provisioningAction: 'other',
  status: 'success',
});

describe('log order', () => {
  /**
   * A commits after B although its transaction began first and its id came second: log order is A (id 2) then B
   * (id 1). Returns the database with the cursor just after A, as the derivation would have left it.
   */
  async function interleaved(): Promise<PgDb> {
    const pool = createPool(await server.createDatabase(), { max: 4 });
    pools.push(pool);
    await migratePostgres(pool);
    const a = await pool.connect();
    const b = await pool.connect();
    try {
      await a.query('begin');
      await a.query('select pg_current_xact_id()');
      await b.query('begin');
      await insertOperationsIn(b, [op('/b')]);
      await insertOperationsIn(a, [op('/a')]);
      await b.query('commit');
      await a.query('commit');
    } finally {
      a.release();
      b.release();
    }
    const { rows } = await pool.query<{ txid: string; id: string; path: string }>(
      'select txid::text, id, path from operations order by txid, id',
    );
    expect(rows.map((r) => [r.path, Number(r.id)])).toEqual([
      ['/a', 2],
      ['/b', 1],
    ]);
    await pool.query("insert into meta (key, value) values ('derivation.cursor', $1)", [
      `${rows[0]?.txid}:${rows[0]?.id}`,
    ]);
    return pgDatabase(pool);
  }

  it('derived so far is at or before the cursor in (txid, id) order, not by id', async () => {
    const db = await interleaved();
    const last = await pg.lastDerivedPosition(db);
    expect(last?.id).toBe(2);
    const rows = await pg.observedOperations(
      db,
      { at: { txid: '0', id: 0 }, inclusive: true },
      last as LogCursor,
      10,
    );
    expect(rows.map((r) => r.path)).toEqual(['/a']);
  });

  it('a bare-id cursor (a copy not derived on PostgreSQL yet) counts rows by id', async () => {
    const db = await interleaved();
    await db.$client.query("update meta set value = '1' where key = 'derivation.cursor'");
    expect((await pg.lastDerivedPosition(db))?.id).toBe(1);
    await db.$client.query("delete from meta where key = 'derivation.cursor'");
    expect(await pg.lastDerivedPosition(db)).toBeNull();
  });
});
