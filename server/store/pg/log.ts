import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import type pg from 'pg';
import { bodies, operations } from '../schema-pg/operations.js';
import type { Pool } from './pool.js';

// The operations log on PostgreSQL, written by every replica and read in order by the one that derives.
//
// Why not "id > cursor": ids come from a sequence when a row is inserted, but transactions commit in any order.
// Replica A draws id 7, replica B draws id 8 and commits first; a reader that sees 8 and moves its cursor there
// never sees 7. So each row also records its transaction id (`txid`, xid8), and the log is read in (txid, id)
// order, taking only rows whose transaction is below the reader snapshot's xmin: every transaction below xmin
// has finished (committed or rolled back), so no row can appear below that horizon later, and a cursor at
// (txid, id) has seen everything before it. (PgQ reads its queues the same way.) A transaction that stays open
// holds the horizon back: the reader waits for it rather than skip it. Within one transaction rows keep id
// order, and since a batch takes its transaction id before its ids, (txid, id) order mostly agrees with id order.

export type NewOperation = Omit<typeof operations.$inferInsert, 'id' | 'txid'> & {
  /** the captured bodies, written to `bodies` in the same transaction */
  body?: Omit<typeof bodies.$inferInsert, 'operationId' | 'time'>;
};
export type LoggedOperation = typeof operations.$inferSelect;

/** A position in the log: after the row (txid, id). Persist it with `formatCursor`. */
export interface LogCursor {
  /** xid8 as a decimal string: it may exceed 2^53 */
  txid: string;
  id: number;
}

export const logStart: LogCursor = { txid: '0', id: 0 };

export function formatCursor(c: LogCursor): string {
  return `${c.txid}:${c.id}`;
}

export function parseCursor(text: string | undefined): LogCursor {
  const m = /^(\d+):(\d+)$/.exec(text ?? '');
  return m ? { txid: m[1] as string, id: Number(m[2]) } : logStart;
}

type Queryable = Pool | pg.PoolClient | pg.Client;

/**
 * Appends a batch inside the caller's open transaction (on `client`); returns the ids in batch order. Ids are
 * drawn up front, so each body is written with its own operation's id whatever order RETURNING would use.
 */
export async function insertOperationsIn(
  client: pg.PoolClient | pg.Client,
  batch: NewOperation[],
): Promise<number[]> {
  if (batch.length === 0) return [];
  const { rows } = await client.query<{ id: string }>(
    `select nextval(pg_get_serial_sequence('operations', 'id')) as id
     from (select pg_current_xact_id()) as take_txid_first, generate_series(1, $1) order by 1`,
    [batch.length],
  );
  const ids = rows.map((r) => Number(r.id));
  const db = drizzle(client);
  await db.insert(operations).values(batch.map(({ body: _, ...op }, i) => ({ ...op, id: ids[i] })));
  const withBodies = batch.flatMap((op, i) =>
    op.body ? [{ ...op.body, operationId: ids[i] as number, time: op.time }] : [],
  );
  if (withBodies.length > 0) await db.insert(bodies).values(withBodies);
  return ids;
}

export interface OperationsLog {
  /** appends a batch in one transaction; returns the ids in batch order */
  insertOperations(batch: NewOperation[]): Promise<number[]>;
  /**
   * Up to `limit` operations after `cursor`, in log order, and the cursor after them (the same cursor when
   * none). Call it outside a transaction that has written: a snapshot never passes its own transaction.
   */
  readAfter(cursor: LogCursor, limit: number): Promise<{ operations: LoggedOperation[]; cursor: LogCursor }>;
}

export function createOperationsLog(pool: Pool): OperationsLog {
  return {
    async insertOperations(batch) {
      if (batch.length === 0) return [];
      const client = await pool.connect();
      let broken = false;
      try {
        await client.query('begin');
        const ids = await insertOperationsIn(client, batch);
        await client.query('commit');
        return ids;
      } catch (err) {
        broken = true;
        await client.query('rollback').catch(() => {});
        throw err;
      } finally {
        client.release(broken);
      }
    },
    async readAfter(cursor, limit) {
      const rows = await readLog(pool, cursor, limit);
      const last = rows.at(-1);
      return { operations: rows, cursor: last ? { txid: last.txid, id: last.id } : cursor };
    },
  };
}

function readLog(db: Queryable, cursor: LogCursor, limit: number): Promise<LoggedOperation[]> {
  return drizzle(db as Pool)
    .select()
    .from(operations)
    .where(
      sql`(${operations.txid}, ${operations.id}) > (${cursor.txid}::xid8, ${cursor.id})
        and ${operations.txid} < pg_snapshot_xmin(pg_current_snapshot())`,
    )
    .orderBy(operations.txid, operations.id)
    .limit(limit);
}
