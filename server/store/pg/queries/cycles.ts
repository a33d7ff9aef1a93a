import { and, count, desc, eq, lt, type SQL, sql } from 'drizzle-orm';
import { decodeCursor, encodeCursor } from '../../queries/cursor.js';
import type * as sqlite from '../../queries/cycles.js';
import type { CycleFilter, CycleRow } from '../../queries/cycles.js';
import type { CycleState } from '../../schema/index.js';
import { cycles, identities } from '../../schema-pg/index.js';
import type { PgDb } from '../db.js';

// PostgreSQL twins of queries/cycles.ts: reads over the cycle rollups, never over `operations`. No prepared
// shapes here (a SQLite speed trick).

/** The state as a literal, as in SQLite: the planner then matches the partial index on running cycles. */
function stateIs(state: CycleState): SQL {
  return sql`${cycles.state} = ${sql.raw(`'${state === 'running' ? 'running' : 'completed'}'`)}`;
}

/** Newest first (by id: the order cycles opened in, stable while new ones open). */
export async function listCycles(
  db: PgDb,
  filter: CycleFilter,
  page: { limit: number; cursor?: string },
): Promise<ReturnType<typeof sqlite.listCycles>> {
  const before = page.cursor ? decodeCursor(page.cursor) : null;
  const where: SQL[] = [];
  if (filter.kind) where.push(eq(cycles.kind, filter.kind));
  if (filter.state) where.push(stateIs(filter.state));
  if (before !== null) where.push(lt(cycles.id, before));
  const rows = await db
    .select()
    .from(cycles)
    .where(and(...where))
    .orderBy(desc(cycles.id))
    .limit(page.limit + 1);
  const more = rows.length > page.limit;
  const items = more ? rows.slice(0, page.limit) : rows;
  return { items, nextCursor: more ? encodeCursor(items[items.length - 1].id) : null };
}

export async function getCycleRow(db: PgDb, id: number): Promise<CycleRow | undefined> {
  const [row] = await db.select().from(cycles).where(eq(cycles.id, id));
  return row;
}

function newest(db: PgDb, where?: SQL) {
  return db.select().from(cycles).where(where).orderBy(desc(cycles.id)).limit(1);
}

/** The running cycle, else the newest one. */
export async function latestCycleRow(db: PgDb): Promise<CycleRow | undefined> {
  const [running] = await newest(db, stateIs('running'));
  if (running) return running;
  const [row] = await newest(db);
  return row;
}

/** The newest initial or incremental cycle: the one Entra's schedule is measured from. */
export async function lastScheduledCycleRow(db: PgDb): Promise<CycleRow | undefined> {
  // One newest id per kind, each read from cycles_kind_idx (as SQLite does), not a scan of both kinds.
  const ids = await Promise.all(
    (['initial', 'incremental'] as const).map(async (kind) => {
      const [row] = await db
        .select({ id: cycles.id })
        .from(cycles)
        .where(eq(cycles.kind, kind))
        .orderBy(desc(cycles.id))
        .limit(1);
      return row?.id ?? 0;
    }),
  );
  const id = Math.max(...ids);
  return id > 0 ? getCycleRow(db, id) : undefined;
}

/**
 * queries/detection.ts's `stuckCondition` in pg's SQL (`deleted` is a boolean here): THE stuck predicate, same
 * threshold, so the dashboard and the stuckObject rule count the same identities on either store.
 */
export function stuckCondition(stuckCycles: number): SQL {
  const min = Math.max(1, Math.floor(stuckCycles));
  return sql`${identities.failingStreak} > 0 and ${identities.failingStreak} >= ${min} and ${identities.deleted} = false`;
}

/** Identities whose last cycle failed, and the stuck ones (see queries/cycles.ts). */
export async function failingIdentityCounts(
  db: PgDb,
  stuckCycles: number,
): Promise<ReturnType<typeof sqlite.failingIdentityCounts>> {
  // count and sum are bigint/numeric in pg: read back as numbers.
  const [row] = await db
    .select({
      failing: sql<number>`count(*)`.mapWith(Number),
      stuck:
        sql<number>`coalesce(sum(case when ${stuckCondition(stuckCycles)} then 1 else 0 end), 0)`.mapWith(
          Number,
        ),
    })
    .from(identities)
    .where(sql`${identities.failingStreak} > 0`);
  return { failing: row?.failing ?? 0, stuck: row?.stuck ?? 0 };
}

/** Cycles stored (Test Connection events included), or only the running ones. */
export async function countCycles(
  db: PgDb,
  { running = false }: { running?: boolean } = {},
): Promise<number> {
  const [row] = await db
    .select({ n: count() })
    .from(cycles)
    .where(running ? stateIs('running') : undefined);
  return row?.n ?? 0;
}

/** Identities whose last cycle ended in failure (the partial index on failing streaks). */
export async function countFailingIdentities(db: PgDb): Promise<number> {
  const [row] = await db.select({ n: count() }).from(identities).where(sql`${identities.failingStreak} > 0`);
  return row?.n ?? 0;
}
