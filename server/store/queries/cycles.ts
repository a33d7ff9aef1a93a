import { and, count, desc, eq, lt, type SQL, sql } from 'drizzle-orm';
import { z } from 'zod';
import type { Db } from '../db.js';
import { cycleKinds, cycleStates, cycles, identities } from '../schema/index.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { stuckCondition } from './detection.js';

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
  const where: SQL[] = [];
  if (filter.kind) where.push(eq(cycles.kind, filter.kind));
  if (filter.state) where.push(stateIs(filter.state));
  const before = page.cursor ? decodeCursor(page.cursor) : null;
  if (before !== null) where.push(lt(cycles.id, before));
  const rows = db
    .select()
    .from(cycles)
    .where(and(...where))
    .orderBy(desc(cycles.id))
    .limit(page.limit + 1)
    .all();
  const more = rows.length > page.limit;
  const items = more ? rows.slice(0, page.limit) : rows;
  return { items, nextCursor: more ? encodeCursor(items[items.length - 1].id) : null };
}

export function getCycleRow(db: Db, id: number): CycleRow | undefined {
  return statusReads(db).byId.get({ id });
}

/**
 * The state as a literal, not a bound parameter: SQLite only uses the partial index on running cycles when it
 * can see that the query asks for `state = 'running'`. Safe: the value is one of the validated enum values.
 */
function stateIs(state: (typeof cycleStates)[number]): SQL {
  return sql`${cycles.state} = ${sql.raw(`'${state === 'running' ? 'running' : 'completed'}'`)}`;
}

// GET /api/status's reads, prepared once per database: GET /api/apps runs them for every app on each refresh of
// the fleet page, and building a query costs drizzle ~10 times what SQLite then takes to answer it (~0.6 ms of
// ~0.7 ms for latestCycleRow).
const prepared = new WeakMap<Db, ReturnType<typeof prepareStatusReads>>();

function prepareStatusReads(db: Db) {
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
  };
}

function statusReads(db: Db) {
  let reads = prepared.get(db);
  if (!reads) {
    reads = prepareStatusReads(db);
    prepared.set(db, reads);
  }
  return reads;
}

/** The running cycle, else the newest one. */
export function latestCycleRow(db: Db): CycleRow | undefined {
  const reads = statusReads(db);
  return reads.running.get() ?? reads.newest.get();
}

/** The newest initial or incremental cycle: the one Entra's schedule is measured from. */
export function lastScheduledCycleRow(db: Db): CycleRow | undefined {
  const { newestOfKind } = statusReads(db);
  const ids = (['initial', 'incremental'] as const).map((kind) => newestOfKind.get({ kind })?.id ?? 0);
  const id = Math.max(...ids);
  return id > 0 ? getCycleRow(db, id) : undefined;
}

/**
 * Identities whose last cycle failed, and the stuck ones: the same condition the stuckObject rule reads
 * (`stuckCondition`), so the dashboard and the email count the same identities.
 */
export function failingIdentityCounts(db: Db, stuckCycles: number): { failing: number; stuck: number } {
  // `failing_streak > 0` first so both counts read the partial index, not the table.
  const row = db
    .select({
      failing: sql<number>`count(*)`,
      stuck: sql<number>`coalesce(sum(case when ${stuckCondition(stuckCycles)} then 1 else 0 end), 0)`,
    })
    .from(identities)
    .where(sql`${identities.failingStreak} > 0`)
    .get();
  return { failing: row?.failing ?? 0, stuck: row?.stuck ?? 0 };
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
