import { getTableColumns } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';
import type { StoredOperation } from '../../ingest.js';
import { cycles, identities, memberships, meta, operationTerms } from '../../schema-pg/index.js';
import { nulReplacement } from '../copy-plan.js';
import { formatCursor, type LogCursor } from '../log.js';
import type { PoolClient } from '../pool.js';
import { netMemberships } from './memberships.js';
import { cursorKey, type IdentityRow, type NextIds, type Write } from './workspace.js';

// The write-back of one derived batch, in one transaction: the cursor (first: it fences, see claimCursor), the
// operations' labels, the stages' writes, the sequences. The writes go as few statements as give the same result
// as running them one by one (`plan`), each with its rows as one JSON parameter however many there are: a batch
// of 500 operations is about 18 statements in all, not thousands of round trips. Merging is safe because the
// workspace already decided every "or ignore"; what reaches here are plain inserts, updates and deletes of rows
// it knows.

const tables = {
  identities,
  cycles,
  memberships,
  meta,
  operation_terms: operationTerms,
} satisfies Record<Write['table'], PgTable>;

type TableName = keyof typeof tables;

/** camelCase keys to the table's column names, for json_populate_recordset */
function toColumns(table: TableName, row: Record<string, unknown>): Record<string, unknown> {
  const columns = getTableColumns(tables[table]) as Record<string, { name: string }>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) {
    const column = columns[k];
    if (!column) throw new Error(`derivation write-back: ${table} has no column ${k}`);
    // PostgreSQL text cannot hold a NUL, which a member id parsed from the log's JSON may carry: replaced as
    // log-write.ts and migrate-store replace it, or the batch would fail on every try.
    out[column.name] = typeof v === 'string' && v.includes('\0') ? v.replaceAll('\0', nulReplacement) : v;
  }
  return out;
}

/** What makes two consecutive writes one statement: same table, same kind, same columns. */
function runKey(w: Write): string {
  const fields = 'row' in w ? Object.keys(w.row).sort().join(',') : '';
  return `${w.table}:${w.op}:${fields}`;
}

/** Splits writes into runs of one kind, in order. */
function runs(writes: Write[]): Write[][] {
  const out: Write[][] = [];
  let key = '';
  for (const w of writes) {
    const k = runKey(w);
    if (k === key) (out.at(-1) as Write[]).push(w);
    else out.push([w]);
    key = k;
  }
  return out;
}

/**
 * The writes as statements to run, in an order with the same result. Writes to different tables commute (no
 * foreign key, no trigger between them), so each table's writes are taken on their own. Memberships go as their
 * net effect (memberships.ts). Identities (see `identityPlan`) go as their final rows.
 */
function plan(writes: Write[], identity: (id: number) => IdentityRow): Write[][] {
  const of = (table: Write['table']) => writes.filter((w) => w.table === table);
  const memberships = of('memberships') as Extract<Write, { table: 'memberships' }>[];
  return [
    ...identityPlan(of('identities'), identity),
    ...runs(of('cycles')),
    ...netMemberships(memberships),
    ...runs(of('operation_terms')),
    ...runs(of('meta')),
  ];
}

/**
 * Identities as few statements as their unique (type, key) allows. Only keys depend on order: every other column
 * is indexed without uniqueness, so a row's other changes can go as one UPDATE of its final values. Keys: first
 * the key changes of rows that were there before the batch, in order and one per statement (PostgreSQL checks
 * uniqueness row by row within a statement, so a key freed and taken again must not share one; they are rare:
 * a row tied to its target id in a later batch than it was created); then the batch's new rows, with their
 * final keys, in one INSERT. Final keys are unique (the workspace keeps SQLite's unique index), old rows have
 * left the keys they gave up, and a new row holds no key the old ones take, since it is not there yet.
 */
function identityPlan(writes: Write[], identity: (id: number) => IdentityRow): Write[][] {
  const id = (w: Write) => ('row' in w ? Number((w.row as Record<string, unknown>).id) : 0);
  const inserted = new Set(writes.filter((w) => w.op === 'insert').map(id));
  const old = writes.filter((w) => !inserted.has(id(w)));
  const rekeys = old.filter((w) => 'row' in w && 'key' in w.row).map((w) => [w]);
  const changed = new Set(old.filter((w) => 'row' in w && !('key' in w.row)).map(id));
  const insert: Write[] = [...inserted].map((n) => ({
    table: 'identities',
    op: 'insert',
    row: { ...identity(n) },
  }));
  const finals: Write[] = [...changed].map((n) => {
    const { type: _type, key: _key, ...row } = identity(n);
    return { table: 'identities', op: 'update', row };
  });
  return [...rekeys, insert, finals].filter((run) => run.length > 0);
}

/** Rows of a run, one per `identify` value: the first one (insert or ignore) or the last one (an update). */
function unique<T>(rows: T[], identify: (r: T) => string, keep: 'first' | 'last'): T[] {
  const by = new Map<string, T>();
  for (const r of rows) {
    const k = identify(r);
    if (keep === 'last') by.delete(k);
    if (!by.has(k)) by.set(k, r);
  }
  return [...by.values()];
}

const q = (name: string) => `"${name}"`;

/** One run as one statement: SQL text and its single JSON parameter. */
function statement(run: Write[]): { text: string; rows: unknown } {
  const first = run[0] as Write;
  const table = first.table;
  const from = (cols: string[]) =>
    `select ${cols.map(q).join(', ')} from json_populate_recordset(null::${q(table)}, $1::json)`;
  if (first.op === 'clearGroup' || first.op === 'removeEverywhere') {
    const byGroup = first.op === 'clearGroup';
    const values = run.map((w) => ('groupId' in w ? w.groupId : 'member' in w ? w.member : null));
    return {
      text: byGroup
        ? 'delete from memberships where group_identity_id = any(select value::bigint from json_array_elements_text($1::json))'
        : 'delete from memberships where member_target_id = any(select value from json_array_elements_text($1::json))',
      rows: values,
    };
  }
  const plain = run.map((w) => ('row' in w ? w.row : {}));
  const pk: Record<TableName, (r: Record<string, unknown>) => string> = {
    identities: (r) => String(r.id),
    cycles: (r) => String(r.id),
    memberships: (r) => `${r.groupIdentityId}\n${r.memberTargetId}`,
    meta: (r) => String(r.key),
    operation_terms: (r) => `${r.field}\n${r.value}`,
  };
  const keep = first.op === 'update' || first.op === 'set' ? 'last' : 'first';
  const rows = unique(plain, pk[table], keep).map((r) => toColumns(table, r));
  const cols = Object.keys(rows[0] as object);
  switch (first.op) {
    case 'insert':
      return { text: `insert into ${q(table)} (${cols.map(q).join(', ')}) ${from(cols)}`, rows };
    case 'add':
      return {
        text: `insert into ${q(table)} (${cols.map(q).join(', ')}) ${from(cols)} on conflict do nothing`,
        rows,
      };
    case 'set':
      return {
        text: `insert into meta (key, value) ${from(['key', 'value'])} on conflict (key) do update set value = excluded.value`,
        rows,
      };
    case 'update': {
      const set = cols.filter((c) => c !== 'id').map((c) => `${q(c)} = r.${q(c)}`);
      const text = `update ${q(table)} as t set ${set.join(', ')}
        from json_populate_recordset(null::${q(table)}, $1::json) as r where t.id = r.id`;
      return { text, rows };
    }
    case 'remove':
      return {
        text: `delete from memberships as m using json_populate_recordset(null::memberships, $1::json) as r
          where m.group_identity_id = r.group_identity_id and m.member_target_id = r.member_target_id`,
        rows,
      };
  }
}

/** The labels the stages gave, in one UPDATE. */
async function writeLabels(client: PoolClient, ops: StoredOperation[]): Promise<void> {
  if (ops.length === 0) return;
  const labels = ops.map((o) => ({
    id: o.id,
    cycle_id: o.cycleId,
    identity_id: o.identityId,
    client_kind: o.clientKind,
    identity: o.identity,
  }));
  await client.query(
    `update operations as o
       set cycle_id = r.cycle_id, identity_id = r.identity_id, client_kind = r.client_kind, identity = r.identity
     from json_to_recordset($1::json) as r(id bigint, cycle_id bigint, identity_id bigint, client_kind text,
       identity text)
     where o.id = r.id`,
    [JSON.stringify(labels)],
  );
}

export interface WriteBack {
  ops: StoredOperation[];
  writes: Write[];
  /** ids to hand out next, and those the database's sequences stood at before the batch */
  next: NextIds;
  before: NextIds | null;
  cursor: LogCursor;
  /** the cursor's row as this derivation last read or wrote it: the batch commits only if it is still that */
  fence: CursorFence | null;
  /** an identity's row as the batch leaves it */
  identity: (id: number) => IdentityRow;
}

/**
 * The cursor's row in `meta` as one derivation knows it: its text and its row version (`xmin`, the transaction
 * that last wrote it). null: no row yet (nothing derived).
 */
export interface CursorFence {
  value: string;
  version: string;
}

/** Another derivation committed since this one read its state: its batch is refused, nothing written. */
export class FencedError extends Error {
  constructor() {
    super('derivation: the cursor moved under this batch (another replica derived); refused');
    this.name = 'FencedError';
  }
}

/**
 * A deposed leader paused mid-write-back (a stopped process, whose connection stays up) must not hold the cursor's
 * row for good: the new leader waits for it at most `lock_timeout` per try (its batch then fails and is retried),
 * and the server ends a write-back idle in its transaction for `idle_in_transaction_session_timeout`, which frees
 * the row. A write-back never idles on purpose: it sends its statements back to back.
 */
const fenceTimeouts = "set local lock_timeout = '10s'; set local idle_in_transaction_session_timeout = '30s'";

/**
 * Fencing: never derive twice. The first statement of the write-back is a compare-and-set on the cursor's row:
 * moved to the batch's end only if it is still the very row version this derivation started from. Comparing the
 * version (`xmin`) and not only the text also catches a commit that left the cursor where it was (closeStale, a
 * reload's writes). Being first, it takes the row lock before any other write: of two derivations writing back
 * from the same state, the second waits on that lock, then finds the row changed (READ COMMITTED re-reads an
 * updated row before updating it) and is refused. The first batch inserts the row; the loser of that race waits
 * on the unique key, then conflicts and is refused. Returns the row's new version.
 */
async function claimCursor(
  client: PoolClient,
  fence: CursorFence | null,
  cursor: LogCursor,
): Promise<string> {
  await client.query(fenceTimeouts);
  const next = formatCursor(cursor);
  const { rows } =
    fence === null
      ? await client.query<{ version: string }>(
          `insert into meta (key, value) values ($1, $2) on conflict (key) do nothing
           returning xmin::text as version`,
          [cursorKey, next],
        )
      : await client.query<{ version: string }>(
          `update meta set value = $2 where key = $1 and value = $3 and xmin = $4::xid
           returning xmin::text as version`,
          [cursorKey, next, fence.value, fence.version],
        );
  const row = rows[0];
  if (!row) throw new FencedError();
  await client.query('set local lock_timeout to default');
  return row.version;
}

/**
 * Runs inside the caller's transaction; the caller commits or rolls back. Returns the cursor row's new version
 * (the fence of the next batch). Throws FencedError, with nothing written, when another derivation committed.
 */
export async function writeBack(client: PoolClient, b: WriteBack): Promise<string> {
  const version = await claimCursor(client, b.fence, b.cursor);
  await writeLabels(client, b.ops);
  for (const run of plan(b.writes, b.identity)) {
    const { text, rows } = statement(run);
    await client.query(text, [JSON.stringify(rows)]);
  }
  for (const table of ['identities', 'cycles'] as const) {
    // Only what this process allocated moves the sequence: the next id after the rows it wrote.
    if (b.before !== null && b.next[table] === b.before[table]) continue;
    await client.query(`select setval(pg_get_serial_sequence($1, 'id'), $2, false)`, [table, b.next[table]]);
  }
  return version;
}
