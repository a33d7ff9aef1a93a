import { and, count, desc, eq, lt, type SQL, sql } from 'drizzle-orm';
import { z } from 'zod';
import type { Db } from '../db.js';
import { cycleKinds, cycleStates, cycles, identities } from '../schema/index.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { stuckCondition } from './detection.js';
import { getOrMake, oncePerDatabase } from './prepared.js';

// Reads over the cycle rollups. None of these touch `operations`: the rollups are kept current as operations are
// recorded, so every query here costs the same with 1,000 or 1,000,000 operations stored.

export type CycleRow = typeof cycles.$inferSelect;

export const cycleFilterSchema = z
  .object({
    kind: z.enum(cycleKinds).optional(),
    state: z.enum(cycleStates).optional(),
  })
  .strict();
export type CycleFilter = z.infer<typeof cycleFilterSchema>;

/** Newest first (by id: the order cycles opened in, stable while new ones open). */
export function listCycles(db: Db, filter: CycleFilter, page: { limit: number; cursor?: string }) {
  const before = page.cursor ? decodeCursor(page.cursor) : null;
  const rows = cyclePage(db, filter, before !== null).all({
    kind: filter.kind,
    before,
    limit: page.limit + 1,
  });
  const more = rows.length > page.limit;
  const items = more ? rows.slice(0, page.limit) : rows;
  return { items, nextCursor: more ? encodeCursor(items[items.length - 1].id) : null };
}

/** listCycles' query for one shape of filter (which of kind, state and cursor it has), prepared once per shape. */
function cyclePage(db: Db, filter: CycleFilter, paged: boolean): CyclePageQuery {
  const shape = `${filter.kind ? 'kind' : ''}/${filter.state ?? ''}/${paged ? 'cursor' : ''}`;
  return getOrMake(preparedReads(db).pages, shape, () =>
    prepareCyclePage(db, { kind: filter.kind !== undefined, state: filter.state, paged }),
  );
}

function prepareCyclePage(db: Db, shape: { kind: boolean; state?: CycleFilter['state']; paged: boolean }) {
  const where: SQL[] = [];
  if (shape.kind) where.push(eq(cycles.kind, sql.placeholder('kind')));
  if (shape.state) where.push(stateIs(shape.state));
  if (shape.paged) where.push(lt(cycles.id, sql.placeholder('before')));
  return db
    .select()
    .from(cycles)
    .where(and(...where))
    .orderBy(desc(cycles.id))
    .limit(sql.placeholder('limit'))
    .prepare();
}

export function getCycleRow(db: Db, id: number): CycleRow | undefined {
  return preparedReads(db).byId.get({ id });
}

/**
 * The state as a literal, not a bound parameter: SQLite only uses the partial index on running cycles when it
 * can see that the query asks for `state = 'running'`. Safe: the value is one of the validated enum values.
 */
function stateIs(state: (typeof cycleStates)[number]): SQL {
  return sql`${cycles.state} = ${sql.raw(`'${state === 'running' ? 'running' : 'completed'}'`)}`;
}

// GET /api/status's and /api/cycles' reads, prepared once per database (prepared.ts).
const preparedReads = oncePerDatabase((db) => {
  const newest = () => db.select().from(cycles).orderBy(desc(cycles.id)).limit(1);
  return {
    running: newest().where(stateIs('running')).prepare(),
    newest: newest().prepare(),
    newestOfKind: db
      .select({ id: cycles.id })
      .from(cycles)
      .where(eq(cycles.kind, sql.placeholder('kind')))
      .orderBy(desc(cycles.id))
      .limit(1)
      .prepare(),
    byId: db
      .select()
      .from(cycles)
      .where(eq(cycles.id, sql.placeholder('id')))
      .prepare(),
    /** listCycles' queries, by filter shape (cyclePage) */
    pages: new Map<string, CyclePageQuery>(),
    /** failingIdentityCounts' query, by stuck threshold */
    failing: new Map<number, FailingCountsQuery>(),
  };
});

type CyclePageQuery = ReturnType<typeof prepareCyclePage>;
type FailingCountsQuery = ReturnType<typeof prepareFailingCounts>;

/** The running cycle, else the newest one. */
export function latestCycleRow(db: Db): CycleRow | undefined {
  const reads = preparedReads(db);
  return reads.running.get() ?? reads.newest.get();
}

/** The newest initial or incremental cycle: the one Entra's schedule is measured from. */
export function lastScheduledCycleRow(db: Db): CycleRow | undefined {
  const { newestOfKind } = preparedReads(db);
  const ids = (['initial', 'incremental'] as const).map((kind) => newestOfKind.get({ kind })?.id ?? 0);
  const id = Math.max(...ids);
  return id > 0 ? getCycleRow(db, id) : undefined;
}

/**
 * Identities whose last cycle failed, and the stuck ones: the same condition the stuckObject rule reads
 * (`stuckCondition`), so the dashboard and the email count the same identities.
 */
export function failingIdentityCounts(db: Db, stuckCycles: number): { failing: number; stuck: number } {
  const query = getOrMake(preparedReads(db).failing, stuckCycles, () =>
    prepareFailingCounts(db, stuckCycles),
  );
  const row = query.get();
  return { failing: row?.failing ?? 0, stuck: row?.stuck ?? 0 };
}

function prepareFailingCounts(db: Db, stuckCycles: number) {
  // `failing_streak > 0` first so both counts read the partial index, not the table.
  return db
    .select({
      failing: sql<number>`count(*)`,
      stuck: sql<number>`coalesce(sum(case when ${stuckCondition(stuckCycles)} then 1 else 0 end), 0)`,
    })
    .from(identities)
    .where(sql`${identities.failingStreak} > 0`)
    .prepare();
}

/** Cycles stored (Test Connection events included), or only the running ones (through their partial index). */
export function countCycles(db: Db, { running = false }: { running?: boolean } = {}): number {
  const query = db.select({ n: count() }).from(cycles);
  return (running ? query.where(stateIs('running')) : query).get()?.n ?? 0;
}

/** Identities whose last cycle ended in failure (the partial index on failing streaks). */
export function countFailingIdentities(db: Db): number {
  return db.select({ n: count() }).from(identities).where(sql`${identities.failingStreak} > 0`).get()?.n ?? 0;
}
