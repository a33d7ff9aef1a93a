import { and, desc, eq, inArray, ne, sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import type { CycleRow } from '../../queries/cycles.js';
import { cycles, identities, meta } from '../../schema-pg/index.js';
import { formatCursor, type LogCursor, parseCursor } from '../log.js';
import type { Pool } from '../pool.js';
import type { CursorFence } from './flush.js';
import { createIdentityTable } from './identities.js';

// The in-memory workspace PostgreSQL's derivation runs the synchronous stages against (derivation.ts): every row
// the stages can read for a batch is fetched into it beforehand, the stages read and write it synchronously, and
// what they wrote is kept in order for one write-back transaction (flush.ts).
//
// Why this is sound: only the lease holder derives, so nothing else writes cycles, identities, memberships,
// terms or these meta keys while it does; should a deposed leader still be mid-batch, the write-back's fence
// (flush.ts claimCursor) refuses whichever of the two commits second. Rows fetched once therefore stay true for
// as long as every later change goes through the workspace, and the workspace may keep them across batches (a
// busy identity costs no SELECT per batch). A lookup the workspace cannot answer completely throws instead of
// guessing: the batch fails, everything is read again, and the stages reload.

export type { IdentityRow } from './identities.js';

export const cursorKey = 'derivation.cursor';
export const acceptedTokensKey = 'clients.acceptedTokens';
/** the meta keys the stages read through the workspace */
const metaKeys = [acceptedTokensKey];

/** One buffered write, in the order the stages made it; row keys are the schema's (camelCase). */
export type Write =
  | { table: 'identities' | 'cycles'; op: 'insert'; row: Record<string, unknown> }
  | { table: 'identities' | 'cycles'; op: 'update'; row: { id: number } & Record<string, unknown> }
  | { table: 'memberships'; op: 'add' | 'remove'; row: Record<string, unknown> }
  | { table: 'memberships'; op: 'clearGroup'; groupId: number }
  | { table: 'memberships'; op: 'removeEverywhere'; member: string }
  | { table: 'operation_terms'; op: 'add'; row: { field: string; value: string } }
  | { table: 'meta'; op: 'set'; row: { key: string; value: string } };

/** What the cycles stage reads of completed cycles, each with the id of the row it came from (latest wins). */
export interface History {
  cadence: { id: number; startedAt: number } | null;
  scheduled: number | null;
  initial: { id: number; processedObjects: number } | null;
}

/** Ids SQLite's AUTOINCREMENT would hand out next, per table. */
export interface NextIds {
  identities: number;
  cycles: number;
}

/** What the workspace's tables share: the writes in order, the ids to hand out. */
export interface Shared {
  writes: Write[];
  next: NextIds;
}

export function createWorkspace(pool: Pool) {
  const db = drizzle(pool);
  const shared: Shared = { writes: [], next: { identities: 1, cycles: 1 } };
  const identity = createIdentityTable(pool, shared);
  /** running cycles, and cycles written since the last commit */
  const cycleRows = new Map<number, CycleRow>();
  const metaValues = new Map<string, string | undefined>();
  let history: History = { cadence: null, scheduled: null, initial: null };
  /** ids after the last commit: setval is not transactional, so a failed batch may have moved the sequences */
  let committedNext: NextIds | null = null;
  let cursor: LogCursor = parseCursor(undefined);
  /** the cursor's row as last read or committed (flush.ts CursorFence); undefined: never read */
  let fence: CursorFence | null | undefined;

  /** Reads what the stages read at construction and after a rollback; forgets every row and write. */
  async function loadBase(): Promise<void> {
    // The fence first: whatever another derivation commits after this read, this one's next write-back is refused.
    const { rows: read } = await pool.query<CursorFence>(
      'select value, xmin::text as version from meta where key = $1',
      [cursorKey],
    );
    const now = read[0] ?? null;
    // Another derivation committed since this one did: the ids it kept for itself are stale too.
    if (fence === undefined || now?.version !== fence?.version) committedNext = null;
    fence = now;
    cursor = parseCursor(now?.value);
    identity.forget();
    cycleRows.clear();
    shared.writes = [];
    const running = await db.select().from(cycles).where(eq(cycles.state, 'running')).orderBy(cycles.id);
    for (const c of running) cycleRows.set(c.id, c as CycleRow);
    history = await readHistory(db);
    const [counted] = await db.select({ n: sql<string>`count(*)` }).from(identities);
    identity.setCount(Number(counted?.n ?? 0));
    const kept = await db.select().from(meta).where(inArray(meta.key, metaKeys));
    const value = (k: string) => kept.find((r) => r.key === k)?.value;
    metaValues.clear();
    for (const k of metaKeys) metaValues.set(k, value(k));
    shared.next = committedNext
      ? { ...committedNext }
      : { identities: await nextId(pool, 'identities'), cycles: await nextId(pool, 'cycles') };
    committedNext = { ...shared.next };
  }

  return {
    loadBase,
    prefetch: identity.prefetch,
    /** after a failed batch: the database is the truth again */
    reset: loadBase,
    cursor: () => cursor,
    /** what the next write-back compares the cursor's row with */
    fence: () => fence ?? null,
    identity,
    cycle: {
      running: () => [...cycleRows.values()].filter((c) => c.state === 'running').sort((a, b) => a.id - b.id),
      history: () => historyWith(history, cycleRows.values()),
      insert(row: Omit<CycleRow, 'id'>): number {
        const full = { ...row, id: shared.next.cycles++ };
        cycleRows.set(full.id, full);
        shared.writes.push({ table: 'cycles', op: 'insert', row: { ...full } });
        return full.id;
      },
      update(row: CycleRow): void {
        cycleRows.set(row.id, { ...row });
        shared.writes.push({ table: 'cycles', op: 'update', row: { ...row } });
      },
    },
    meta: {
      get(key: string): string | undefined {
        if (!metaValues.has(key)) throw new Error(`derivation workspace: meta ${key} was not prefetched`);
        return metaValues.get(key);
      },
      set(key: string, value: string): void {
        metaValues.set(key, value);
        shared.writes.push({ table: 'meta', op: 'set', row: { key, value } });
      },
    },
    write: (w: Write) => void shared.writes.push(w),
    writes: () => shared.writes,
    nextIds: () => shared.next,
    committedIds: () => committedNext,
    /** the batch's writes are in the database: they are the base state now */
    committed(at: LogCursor, version: string): void {
      cursor = at;
      fence = { value: formatCursor(at), version };
      shared.writes = [];
      committedNext = { ...shared.next };
      history = historyWith(history, cycleRows.values());
      for (const [id, c] of cycleRows) if (c.state !== 'running') cycleRows.delete(id);
    },
  };
}

export type Workspace = ReturnType<typeof createWorkspace>;

/** The history the database has, updated with completed cycles written since (higher ids are later). */
function historyWith(base: History, written: Iterable<CycleRow>): History {
  const h = { ...base };
  for (const c of written) {
    if (c.state !== 'completed') continue;
    if (c.kind !== 'onDemand' && (h.cadence === null || c.id >= h.cadence.id))
      h.cadence = { id: c.id, startedAt: c.startedAt };
    if ((c.kind === 'initial' || c.kind === 'incremental') && (h.scheduled === null || c.id >= h.scheduled))
      h.scheduled = c.id;
    if (c.kind === 'initial' && (h.initial === null || c.id >= h.initial.id))
      h.initial = { id: c.id, processedObjects: c.processedObjects };
  }
  return h;
}

/** The three reads of queries/rollups.ts's history, with the ids of their rows. */
async function readHistory(db: ReturnType<typeof drizzle>): Promise<History> {
  const completed = eq(cycles.state, 'completed');
  const last = (where: ReturnType<typeof and>) =>
    db
      .select({ id: cycles.id, startedAt: cycles.startedAt, processedObjects: cycles.processedObjects })
      .from(cycles)
      .where(where)
      .orderBy(desc(cycles.id))
      .limit(1)
      .then((r) => r[0]);
  const cadence = await last(and(completed, ne(cycles.kind, 'onDemand')));
  const scheduled = await last(and(completed, inArray(cycles.kind, ['initial', 'incremental'])));
  const initial = await last(and(completed, eq(cycles.kind, 'initial')));
  return {
    cadence: cadence ? { id: cadence.id, startedAt: cadence.startedAt } : null,
    scheduled: scheduled ? scheduled.id : null,
    initial: initial ? { id: initial.id, processedObjects: initial.processedObjects } : null,
  };
}

/**
 * The id AUTOINCREMENT would give the table's next row: past the sequence (which migrate-store moves past the
 * copied rows, `is_called` false) and past every row there.
 */
async function nextId(pool: Pool, table: 'identities' | 'cycles'): Promise<number> {
  const { rows } = await pool.query<{ seq: string }>(`select pg_get_serial_sequence($1, 'id') as seq`, [
    table,
  ]);
  const seq = rows[0]?.seq as string;
  const state = await pool.query<{ last_value: string; is_called: boolean }>(
    `select last_value, is_called from ${seq}`,
  );
  const s = state.rows[0] as { last_value: string; is_called: boolean };
  const fromSequence = Number(s.last_value) + (s.is_called ? 1 : 0);
  const max = await pool.query<{ m: string | null }>(`select max(id) as m from ${table}`);
  return Math.max(fromSequence, Number(max.rows[0]?.m ?? 0) + 1);
}
