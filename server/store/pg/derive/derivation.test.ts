import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMembersBody, createGroupBody, exchange, groupResource } from '../../../../test/fixtures/entra.js';
import {
  append,
  classifyRedacted,
  clock,
  config,
  type Dump,
  deriveOnSqlite,
  expectSameDump,
  pgDump,
  sqliteDump,
} from '../../../../test/helpers/derive-compare.js';
import { generatedTraffic, random, rekeys, scenario } from '../../../../test/helpers/derive-traffic.js';
import { type PostgresServer, startPostgres } from '../../../../test/helpers/postgres.js';
import { createClientStage } from '../../../cycles/clients.js';
import { createCycleStage } from '../../../cycles/index.js';
import type { Exchange } from '../../../scim/types.js';
import { openDatabase } from '../../db.js';
import { createDerivation } from '../../derivation.js';
import { createLogWriter } from '../../ingest.js';
import { createTermsStage } from '../../terms.js';
import { migratePostgres } from '../migrate.js';
import { createPool, type Pool } from '../pool.js';
import { createPgDerivation } from './derivation.js';

// Differential: the same exchanges, derived by SQLite's derivation and by PostgreSQL's (the same stages over a
// prefetched workspace), must leave the same rollups, terms, labels and accepted tokens, row for row.

type Action = { kind: 'append'; batch: number } | { kind: 'restart'; batchSize: number } | { kind: 'step' };

/** Batches appended in order; after each, maybe a restart (a new batch size), then 0 to 2 steps. */
function schedule(batches: Exchange[][], next: () => number): Action[] {
  const plan: Action[] = [];
  for (let batch = 0; batch < batches.length; batch++) {
    plan.push({ kind: 'append', batch });
    if (batch === 0 || next() < 0.15) plan.push({ kind: 'restart', batchSize: 1 + Math.floor(next() * 30) });
    const steps = Math.floor(next() * 3);
    for (let i = 0; i < steps; i++) plan.push({ kind: 'step' });
  }
  plan.push({ kind: 'restart', batchSize: 1 + Math.floor(next() * 30) });
  return plan;
}

/** SQLite on the same schedule: the log written alone, new stages and derivation at each restart. */
function deriveOnSqliteScheduled(batches: Exchange[][], plan: Action[]): Dump {
  const db = openDatabase(':memory:');
  const write = createLogWriter({ db, classify: classifyRedacted });
  const start = (batchSize: number) =>
    createDerivation({
      db,
      stages: [createClientStage({ db }), createCycleStage({ db, config, clock }), createTermsStage(db)],
      batchSize,
    });
  let derivation = start(500);
  for (const action of plan) {
    if (action.kind === 'append') write(batches[action.batch] as Exchange[]);
    else if (action.kind === 'restart') derivation = start(action.batchSize);
    else derivation.step();
  }
  derivation.drain();
  const dump = sqliteDump(db);
  db.$client.close();
  return dump;
}

describe('derivation on PostgreSQL, against SQLite', () => {
  let server: PostgresServer;
  const pools: Pool[] = [];
  const freshPool = async () => {
    const pool = createPool(await server.createDatabase(), { max: 6 });
    pools.push(pool);
    await migratePostgres(pool);
    return pool;
  };
  beforeAll(async () => {
    server = await startPostgres();
  });
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.end()));
    await server?.stop();
  });

  // Not vacuous: the traffic made cycles, identities and memberships (expectSameDump checks).
  const expectSame = (pool: Pool, batches: Exchange[][], expected = deriveOnSqlite(batches)) =>
    expectSameDump(pool, expected);

  const cases: [string, () => Exchange[][]][] = [
    ['the hand-written scenario (renames, linkTarget, member replace)', scenario],
    ['generated traffic, seed 1', () => generatedTraffic(1)],
    ['generated traffic, seed 2', () => generatedTraffic(2)],
    ['generated traffic, seed 3', () => generatedTraffic(3, 16)],
  ];

  for (const [name, traffic] of cases) {
    it(`${name}: appended in the recorder's batches, then drained`, async () => {
      const pool = await freshPool();
      const batches = traffic();
      for (const batch of batches) await append(pool, batch);
      const derivation = createPgDerivation({ pool, config, clock });
      const derived = await derivation.drain();
      expect(derived).toBe(batches.flat().length);
      expect(await derivation.step()).toBe(0);
      await expectSame(pool, batches);
      const { rows } = await pool.query("select count(*)::int as n from cycles where state = 'completed'");
      expect(rows[0].n).toBeGreaterThan(2);
    });

    // A restart starts the stages with empty caches, and that alone can change what they derive (see the
    // report on cycles/identities.ts's keysByTarget): SQLite follows the very same schedule, so the stores are
    // compared, not the schedules.
    it(`${name}: derived while recorded, in random batch sizes, restarted at random points`, async () => {
      const pool = await freshPool();
      const batches = traffic();
      const plan = schedule(batches, random(batches.length * 7919));
      expect(plan.filter((a) => a.kind === 'restart').length).toBeGreaterThan(1);
      let derivation = createPgDerivation({ pool, config, clock });
      for (const action of plan) {
        if (action.kind === 'append') await append(pool, batches[action.batch] as Exchange[]);
        else if (action.kind === 'restart')
          derivation = createPgDerivation({ pool, config, clock, batchSize: action.batchSize });
        else await derivation.step();
      }
      await derivation.drain();
      await expectSame(pool, batches, deriveOnSqliteScheduled(batches, plan));
    });
  }

  // Two replicas commit a flush apart: the update committed first, the create it followed second. Derived in
  // commit order, the user's last operation would be the create.
  it('waits for operations to settle, derives them in request order, and never waits on a clock far ahead', async () => {
    const pool = await freshPool();
    const t0 = clock();
    const user = { userName: 'ada@example.com', id: 'u-1' };
    const create = exchange({
      startedAt: t0,
      method: 'POST',
      reqBody: { ...user },
      resBody: user,
      status: 201,
    });
    const update = exchange({
      startedAt: t0 + 500,
      method: 'PATCH',
      path: '/scim/v2/Users/u-1',
      reqBody: { Operations: [{ op: 'Replace', path: 'displayName', value: 'Ada' }] },
      status: 204,
    });
    await append(pool, [update]);
    await append(pool, [create]);
    let now = t0 + 600;
    const derived: string[] = [];
    const derivation = createPgDerivation({
      pool,
      config,
      clock: () => now,
      settleMs: 1_000,
      onDerived: (ops) => derived.push(...ops.map((op) => op.httpMethod)),
    });
    // The update, first in the log, is 100 ms old: nothing is derived yet.
    expect(await derivation.step()).toBe(0);
    now = t0 + 2_000;
    expect(await derivation.step()).toBe(2);
    expect(derived).toEqual(['POST', 'PATCH']);
    // A replica whose clock is an hour ahead: its row is taken as it comes, and the one behind it is not held.
    await append(pool, [exchange({ startedAt: now + 3_600_000 })]);
    await append(pool, [exchange({ startedAt: now - 5_000 })]);
    expect(await derivation.step()).toBe(2);
    // And drain() (a flush) does not wait at all.
    await append(pool, [exchange({ startedAt: now })]);
    expect(await derivation.drain()).toBe(1);
  });

  // A write the server refuses mid-batch (after the labels and the identities went out): nothing of the batch
  // stays, the cursor stays, and once the cause is gone the next step derives the batch as if nothing happened.
  it('rolls a failed batch back whole and derives it on the next step', async () => {
    const pool = await freshPool();
    const batches = scenario();
    const [first, ...rest] = batches;
    await append(pool, first as Exchange[]);
    const derivation = createPgDerivation({ pool, config, clock, batchSize: 500 });
    await derivation.drain();
    const before = await pgDump(pool);
    const cursorBefore = await derivation.cursor();

    for (const batch of rest) await append(pool, batch);
    // The search term 'Sales' comes with the second cycle (scenario()); terms are written after the labels,
    // identities, cycles and memberships, so the batch fails late in its transaction.
    await pool.query("alter table operation_terms add constraint refuse_sales check (value <> 'Sales')");
    await expect(derivation.step()).rejects.toThrow(/refuse_sales/);
    const after = await pgDump(pool);
    expect(after).toEqual({ ...before, labels: after.labels });
    // The new rows are there, unlabelled; the old ones kept their labels.
    expect(after.labels.slice(0, before.labels.length)).toEqual(before.labels);
    expect(after.labels.slice(before.labels.length).every((r) => r.cycle_id === null)).toBe(true);
    expect(await derivation.cursor()).toEqual(cursorBefore);
    await expect(derivation.step()).rejects.toThrow(/refuse_sales/);

    await pool.query('alter table operation_terms drop constraint refuse_sales');
    expect(await derivation.drain()).toBe(rest.flat().length);
    await expectSame(pool, batches);
  });

  // One batch where a row created earlier gives its key up and another created earlier takes it: two UPDATEs,
  // in order (one statement would trip over the unique (type, key) halfway).
  it('moves keys between rows of earlier batches in order', async () => {
    const pool = await freshPool();
    const batches = rekeys();
    const derivation = createPgDerivation({ pool, config, clock });
    for (const batch of batches) {
      await append(pool, batch);
      await derivation.drain();
    }
    await expectSame(pool, batches);
    const { rows } = await pool.query(
      "select name, key, target_id from identities where type = 'User' order by id",
    );
    expect(rows).toEqual([
      { name: 'U-7', key: 'u-100', target_id: 'u-100' },
      { name: 'bob@contoso.example', key: 'u-7', target_id: 'u-7' },
    ]);
  });

  // The cycles stage's closeStale (the running cycle closed after a silence, with no operation to say so): its
  // writes go out in a transaction of their own, as SQLite's do, and what follows derives the same.
  it('closes a stale cycle as SQLite does', async () => {
    const pool = await freshPool();
    const batches = scenario();
    const [first, second, ...rest] = batches as [Exchange[], Exchange[], ...Exchange[][]];
    const silentUntil = (second.at(-1) as Exchange).startedAt + 10 * 60_000;

    const db = openDatabase(':memory:');
    const cycleStage = createCycleStage({ db, config, clock });
    const sqlite = createDerivation({
      db,
      stages: [createClientStage({ db }), cycleStage, createTermsStage(db)],
    });
    const write = createLogWriter({ db, classify: classifyRedacted, derivation: sqlite });
    write(first);
    write(second);
    expect(cycleStage.closeStale(silentUntil)).toBe(true);
    for (const batch of rest) write(batch);
    sqlite.drain();
    const expected = sqliteDump(db);
    db.$client.close();

    await append(pool, first);
    await append(pool, second);
    const derivation = createPgDerivation({ pool, config, clock });
    await derivation.drain();
    expect(await derivation.closeStale(silentUntil)).toBe(true);
    const closed = await pool.query("select state, closed_at from cycles where state = 'completed'");
    expect(closed.rows).toEqual([{ state: 'completed', closed_at: String(silentUntil) }]);
    // Nothing more to close, and a restart finds no running cycle.
    expect(await derivation.closeStale(silentUntil + 60_000)).toBe(false);
    for (const batch of rest) await append(pool, batch);
    await createPgDerivation({ pool, config, clock }).drain();
    await expectSame(pool, batches, expected);
  });

  // SQLite keeps a NUL in a member id; PostgreSQL text cannot: replaced as the log write replaces it, rather
  // than failing the batch on every try.
  it('replaces a NUL in a member id instead of failing the batch', async () => {
    const pool = await freshPool();
    const at = Date.UTC(2025, 0, 15, 9, 0, 0);
    await append(pool, [
      exchange({
        startedAt: at,
        method: 'POST',
        path: '/scim/v2/Groups',
        reqBody: createGroupBody(),
        status: 201,
        resBody: groupResource({ id: 'g-1' }),
      }),
      exchange({
        startedAt: at + 1,
        method: 'PATCH',
        path: '/scim/v2/Groups/g-1',
        reqBody: addMembersBody(['u-\u0000x']),
        status: 204,
      }),
    ]);
    expect(await createPgDerivation({ pool, config, clock }).drain()).toBe(2);
    const { rows } = await pool.query('select member_target_id from memberships');
    expect(rows).toEqual([{ member_target_id: 'u-\uFFFDx' }]);
  });
});
