import { eq, inArray, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BothStores, recordedOnBothStores } from '../../../../test/helpers/both-stores.js';
import { type PostgresServer, startPostgres } from '../../../../test/helpers/postgres.js';
import { addCycles, addIdentities } from '../../../../test/helpers/same-rows.js';
import * as sqlite from '../../queries/cycles.js';
import { type CycleFilter, cycleFilterSchema } from '../../queries/cycles.js';
import { cycleKinds, cycleStates, cycles, identities } from '../../schema/index.js';
import { cycles as pgCycles, identities as pgIdentities } from '../../schema-pg/index.js';
import * as twin from './cycles.js';

let server: PostgresServer;
let both: BothStores;
const t0 = Date.UTC(2025, 0, 16, 9);

beforeAll(async () => {
  server = await startPostgres();
  both = await recordedOnBothStores(server);
  // The recorded traffic has initial and incremental cycles only, and no deleted or long-stuck identity.
  const cycle = (id: number, kind: (typeof cycleKinds)[number]) => ({
    id,
    kind,
    state: 'completed' as const,
    startedAt: t0 + id * 60_000,
    endedAt: t0 + id * 60_000 + 5_000,
    closedAt: id === 13 ? null : t0 + id * 60_000 + 9_000,
  });
  await addCycles(both, [cycle(13, 'testConnection'), cycle(14, 'onDemand')]);
  const identity = (id: number, streak: number, deleted: boolean) => ({
    id,
    type: 'User' as const,
    key: `extra-${id}`,
    failingStreak: streak,
    failingSince: streak > 0 ? t0 : null,
    firstSeen: t0,
    lastSeen: t0,
    deleted,
  });
  await addIdentities(both, [
    identity(1001, 9, true),
    identity(1002, 2, false),
    identity(1003, 1, false),
    identity(1004, 7, false),
  ]);
}, 60_000);

afterAll(async () => {
  await both?.close();
  await server?.stop();
});

/** Walks every page of listCycles on both stores, following the cursors; returns the ids seen. */
async function walkCycles(filter: CycleFilter, limit: number): Promise<number[]> {
  const ids: number[] = [];
  let cursor: string | undefined;
  for (let pages = 0; pages < 100; pages++) {
    const expected = sqlite.listCycles(both.sqlite, filter, { limit, cursor });
    const actual = await twin.listCycles(both.pg, filter, { limit, cursor });
    expect(actual).toStrictEqual(expected);
    ids.push(...actual.items.map((c) => c.id));
    if (actual.nextCursor === null) return ids;
    cursor = actual.nextCursor;
  }
  throw new Error('listCycles never ended');
}

describe('listCycles', () => {
  const filters: CycleFilter[] = [
    {},
    ...cycleKinds.map((kind) => ({ kind })),
    ...cycleStates.map((state) => ({ state })),
    ...cycleKinds.flatMap((kind) => cycleStates.map((state) => ({ kind, state }))),
  ];

  it.each(filters.map((f) => [JSON.stringify(f), f] as const))('%s, every page', async (_, f) => {
    cycleFilterSchema.parse(f);
    for (const limit of [1, 3, 100]) await walkCycles(f, limit);
  });

  it('covers every kind and state, and pages ending exactly on the limit', async () => {
    expect(await walkCycles({}, 1)).toHaveLength(14);
    expect(await walkCycles({}, 14)).toHaveLength(14);
    expect(await walkCycles({}, 7)).toHaveLength(14);
    for (const kind of cycleKinds) expect((await walkCycles({ kind }, 100)).length).toBeGreaterThan(0);
    for (const state of cycleStates) expect((await walkCycles({ state }, 100)).length).toBeGreaterThan(0);
    expect(await walkCycles({ kind: 'initial', state: 'running' }, 5)).toEqual([]);
  });

  it('reads a cursor as SQLite does: past the oldest, and an unreadable one', async () => {
    for (const cursor of ['djE6MQ', 'djE6OTk5OQ', 'not-a-cursor', '']) {
      const page = { limit: 4, cursor };
      expect(await twin.listCycles(both.pg, {}, page)).toStrictEqual(
        sqlite.listCycles(both.sqlite, {}, page),
      );
    }
  });
});

describe('single rows and counts', () => {
  it('getCycleRow: hit and miss', async () => {
    for (const id of [1, 12, 13, 14, 0, 9999]) {
      expect(await twin.getCycleRow(both.pg, id)).toStrictEqual(sqlite.getCycleRow(both.sqlite, id));
    }
    expect(await twin.getCycleRow(both.pg, 13)).toMatchObject({ id: 13, closedAt: null });
    expect(await twin.getCycleRow(both.pg, 9999)).toBeUndefined();
  });

  it('latestCycleRow and lastScheduledCycleRow', async () => {
    expect(await twin.latestCycleRow(both.pg)).toStrictEqual(sqlite.latestCycleRow(both.sqlite));
    expect((await twin.latestCycleRow(both.pg))?.state).toBe('running');
    expect(await twin.lastScheduledCycleRow(both.pg)).toStrictEqual(
      sqlite.lastScheduledCycleRow(both.sqlite),
    );
    expect((await twin.lastScheduledCycleRow(both.pg))?.id).toBe(12);
  });

  it('failingIdentityCounts at several thresholds', async () => {
    for (const stuck of [0, 1, 2, 2.7, 4, 5, 7, 8, 100]) {
      const expected = sqlite.failingIdentityCounts(both.sqlite, stuck);
      expect(await twin.failingIdentityCounts(both.pg, stuck)).toStrictEqual(expected);
    }
    expect((await twin.failingIdentityCounts(both.pg, 2)).stuck).toBeGreaterThan(0);
  });

  it('countCycles and countFailingIdentities', async () => {
    expect(await twin.countCycles(both.pg)).toBe(sqlite.countCycles(both.sqlite));
    expect(await twin.countCycles(both.pg, {})).toBe(14);
    expect(await twin.countCycles(both.pg, { running: true })).toBe(
      sqlite.countCycles(both.sqlite, { running: true }),
    );
    expect(await twin.countCycles(both.pg, { running: false })).toBe(
      sqlite.countCycles(both.sqlite, { running: false }),
    );
    expect(await twin.countFailingIdentities(both.pg)).toBe(sqlite.countFailingIdentities(both.sqlite));
    expect(await twin.countFailingIdentities(both.pg)).toBeGreaterThan(0);
  });
});

// Last: these change both stores.
describe('as the rows go', () => {
  async function compareAll() {
    expect(await twin.latestCycleRow(both.pg)).toStrictEqual(sqlite.latestCycleRow(both.sqlite));
    expect(await twin.lastScheduledCycleRow(both.pg)).toStrictEqual(
      sqlite.lastScheduledCycleRow(both.sqlite),
    );
    for (const running of [false, true]) {
      expect(await twin.countCycles(both.pg, { running })).toBe(sqlite.countCycles(both.sqlite, { running }));
    }
    expect(await twin.failingIdentityCounts(both.pg, 3)).toStrictEqual(
      sqlite.failingIdentityCounts(both.sqlite, 3),
    );
    expect(await twin.countFailingIdentities(both.pg)).toBe(sqlite.countFailingIdentities(both.sqlite));
    expect(await twin.listCycles(both.pg, {}, { limit: 5 })).toStrictEqual(
      sqlite.listCycles(both.sqlite, {}, { limit: 5 }),
    );
  }

  it('no running cycle: the newest one', async () => {
    both.sqlite.update(cycles).set({ state: 'completed' }).run();
    await both.pg.update(pgCycles).set({ state: 'completed' });
    await compareAll();
    expect((await twin.latestCycleRow(both.pg))?.id).toBe(14);
  });

  it('no scheduled cycle left', async () => {
    const scheduled = ['initial', 'incremental'] as const;
    both.sqlite
      .delete(cycles)
      .where(inArray(cycles.kind, [...scheduled]))
      .run();
    await both.pg.delete(pgCycles).where(inArray(pgCycles.kind, [...scheduled]));
    await compareAll();
    expect(await twin.lastScheduledCycleRow(both.pg)).toBeUndefined();
  });

  it('nothing at all', async () => {
    both.sqlite.delete(cycles).run();
    await both.pg.delete(pgCycles);
    both.sqlite
      .update(identities)
      .set({ failingStreak: 0 })
      .where(sql`${identities.failingStreak} > 0`)
      .run();
    await both.pg
      .update(pgIdentities)
      .set({ failingStreak: 0 })
      .where(sql`${pgIdentities.failingStreak} > 0`);
    await compareAll();
    expect(await twin.latestCycleRow(both.pg)).toBeUndefined();
    expect(await twin.failingIdentityCounts(both.pg, 1)).toStrictEqual({ failing: 0, stuck: 0 });
    expect(await twin.countCycles(both.pg)).toBe(0);
    expect(await twin.getCycleRow(both.pg, 1)).toStrictEqual(sqlite.getCycleRow(both.sqlite, 1));
    expect(await twin.listCycles(both.pg, {}, { limit: 5 })).toStrictEqual({ items: [], nextCursor: null });
    expect(both.sqlite.select().from(identities).where(eq(identities.id, 1001)).get()?.deleted).toBe(true);
  });
});
