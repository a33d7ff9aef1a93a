import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import type pg from 'pg';
import { type bodies, operations } from '../schema-pg/operations.js';
import { inTransaction, type Pool } from './pool.js';

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

/** A column of the log's insert: its name, its PostgreSQL array type, and its value in a new row. */
type Column<R> = [name: string, type: string, value: (row: R) => unknown];

// Every column of `operations` but txid (its default is the inserting transaction). Written out rather than
// built by Drizzle: with a batch's rows as one array per column (unnest), the statement has 28 parameters, not
// 28 per row. Building and checking 14,000 parameters for 500 rows took most of the recorder's CPU.
const operationColumns: Column<NewOperation & { id: number }>[] = [
  ['id', 'bigint', (o) => o.id],
  ['time', 'bigint', (o) => o.time],
  ['duration_ms', 'integer', (o) => o.durationMs],
  ['cycle_id', 'bigint', (o) => o.cycleId ?? null],
  ['identity_id', 'bigint', (o) => o.identityId ?? null],
  ['http_method', 'text', (o) => o.httpMethod],
  ['path', 'text', (o) => o.path],
  ['query', 'text', (o) => o.query ?? ''],
  ['http_status', 'integer', (o) => o.httpStatus ?? null],
  ['resource_type', 'text', (o) => o.resourceType],
  ['operation', 'text', (o) => o.operation],
  ['provisioning_action', 'text', (o) => o.provisioningAction],
  ['status', 'text', (o) => o.status],
  ['identity_type', 'text', (o) => o.identityType ?? null],
  ['identity', 'text', (o) => o.identity ?? null],
  ['external_id', 'text', (o) => o.externalId ?? null],
  ['target_id', 'text', (o) => o.targetId ?? null],
  ['error_code', 'text', (o) => o.errorCode ?? null],
  ['scim_type', 'text', (o) => o.scimType ?? null],
  ['reason', 'text', (o) => o.reason ?? null],
  ['modified_properties', 'text', (o) => o.modifiedProperties ?? '[]'],
  ['members', 'text', (o) => o.members ?? '[]'],
  ['request_bytes', 'integer', (o) => o.requestBytes ?? 0],
  ['response_bytes', 'integer', (o) => o.responseBytes ?? 0],
  ['token_fingerprint', 'text', (o) => o.tokenFingerprint ?? null],
  ['client_ip', 'text', (o) => o.clientIp ?? null],
  ['user_agent', 'text', (o) => o.userAgent ?? null],
  ['client_kind', 'text', (o) => o.clientKind ?? 'provisioning'],
];

type NewBody = NonNullable<NewOperation['body']> & { operationId: number; time: number };
const bodyColumns: Column<NewBody>[] = [
  ['operation_id', 'bigint', (b) => b.operationId],
  ['time', 'bigint', (b) => b.time],
  ['request_body', 'text', (b) => b.requestBody ?? null],
  ['request_truncated', 'boolean', (b) => b.requestTruncated ?? false],
  ['response_body', 'text', (b) => b.responseBody ?? null],
  ['response_truncated', 'boolean', (b) => b.responseTruncated ?? false],
];

/** The columns the log's insert writes, by table (its test checks they are every column but txid). */
export const insertedColumns = {
  operations: operationColumns.map(([name]) => name),
  bodies: bodyColumns.map(([name]) => name),
};

/** `insert into table (...) select * from unnest($1::type[], ...)`, and its parameters: one array per column. */
function unnestInsert<R>(table: string, columns: Column<R>[], rows: R[]): [string, unknown[]] {
  const names = columns.map(([name]) => name).join(', ');
  const arrays = columns.map(([, type], i) => `$${i + 1}::${type}[]`).join(', ');
  return [
    `insert into ${table} (${names}) select * from unnest(${arrays})`,
    columns.map(([, , value]) => rows.map(value)),
  ];
}

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
  await client.query(
    ...unnestInsert(
      'operations',
      operationColumns,
      batch.map((op, i) => ({ ...op, id: ids[i] as number })),
    ),
  );
  const withBodies = batch.flatMap((op, i) =>
    op.body ? [{ ...op.body, operationId: ids[i] as number, time: op.time }] : [],
  );
  if (withBodies.length > 0) await client.query(...unnestInsert('bodies', bodyColumns, withBodies));
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
      return inTransaction(pool, (client) => insertOperationsIn(client, batch));
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
