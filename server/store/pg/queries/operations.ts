import {
  and,
  asc,
  desc,
  eq,
  getTableColumns,
  gte,
  lt,
  lte,
  max,
  type SQL,
  type SQLWrapper,
  sql,
} from 'drizzle-orm';
import { decodeCursor, encodeCursor } from '../../queries/cursor.js';
import type * as sqlite from '../../queries/operations.js';
import {
  likePattern,
  maxSearchTerms,
  type OperationFilter,
  operationConditions,
  type SearchMatch,
  searchText,
  toOperationView,
  toSearchMatch,
} from '../../queries/operations.js';
import { bodies, operations, operationTerms } from '../../schema-pg/index.js';
import type { PgDb } from '../db.js';

// The PostgreSQL twins of queries/operations.ts: the same filters, search and pages, answered the same.

/**
 * SQLite's LIKE folds ASCII case only; ILIKE under the "C" collation does the same whatever the database's
 * collation (under a UTF-8 locale it would also fold É to é, and match what SQLite does not).
 */
export const ilike = (column: SQLWrapper, pattern: string) =>
  sql`${column} collate "C" ilike ${pattern} escape '\\'`;

export async function matchSearch(db: PgDb, q: string): Promise<SearchMatch> {
  // Ordered, unlike SQLite's (its table scan answers in insertion order, which PostgreSQL does not keep): the
  // same values either way, and a dense match is dense either way.
  const rows = await db
    .select()
    .from(operationTerms)
    .where(ilike(operationTerms.value, likePattern(searchText(q))))
    .orderBy(sql`${operationTerms.field} collate "C"`, sql`${operationTerms.value} collate "C"`)
    .limit(maxSearchTerms + 1);
  return toSearchMatch(rows);
}

/** queries/operations.ts's `operationWhere` over the PostgreSQL table (the conditions are shared). */
export function operationWhere(f: OperationFilter, search?: SearchMatch): SQL[] {
  return operationConditions(operations, f, search, ilike);
}

/**
 * The twin of queries/operations.ts's `timeWindowIds` (see there): the window's exact id range, or null, or
 * 'empty'. PostgreSQL needs it for the same reason, an id-ordered scan would otherwise walk every newer row.
 * Every read here is an index-only scan of `operations_time_idx` on (time, id) (schema-pg/operations.ts).
 */
export async function timeWindowIds(
  db: PgDb,
  f: Pick<OperationFilter, 'from' | 'to'>,
  maxRows = 200_000,
): Promise<ReturnType<typeof sqlite.timeWindowIds>> {
  if (f.from === undefined && f.to === undefined) return null;
  // SQLite's time index holds (time, id): the first row at a time is the lowest id among equal times.
  const firstIdAt = async (t: number) =>
    (
      await db
        .select({ id: operations.id })
        .from(operations)
        .where(gte(operations.time, t))
        .orderBy(asc(operations.time), asc(operations.id))
        .limit(1)
    )[0]?.id ?? Number.MAX_SAFE_INTEGER;
  const start = f.from === undefined ? 0 : await firstIdAt(f.from);
  const end = f.to === undefined ? Number.MAX_SAFE_INTEGER : await firstIdAt(f.to + 1);
  const last = (await db.select({ id: max(operations.id) }).from(operations))[0]?.id ?? 0;
  const newer = Math.max(0, last + 1 - end);
  if (Math.min(end, last + 1) - start > maxRows && newer < maxRows / 4) return null;
  const inWindow = and(
    gte(operations.time, f.from ?? Number.MIN_SAFE_INTEGER),
    lte(operations.time, f.to ?? Number.MAX_SAFE_INTEGER),
  );
  // Not `select min(id), max(id) from operations where <window>`: PostgreSQL plans a lone min or max as
  // `order by id limit 1` over the primary key, filtering on time, as if the window's rows were spread evenly
  // over the ids; they follow time, so it walked ~995,000 rows to find the last day's lowest id. `offset 0`
  // keeps the subquery apart, so the aggregate reads just the window's (time, id) index entries.
  const { rows } = await db.execute<{ lo: string | null; hi: string | null }>(
    sql`select min(id) as lo, max(id) as hi from (select ${operations.id} from ${operations} where ${inWindow} offset 0) as w`,
  );
  const [lo, hi] = [rows[0]?.lo, rows[0]?.hi];
  return lo == null || hi == null ? 'empty' : { lo: Number(lo), hi: Number(hi) };
}

async function timeWindowWhere(db: PgDb, f: OperationFilter): Promise<SQL[]> {
  const ids = await timeWindowIds(db, f);
  if (ids === null) return [];
  if (ids === 'empty') return [sql`false`];
  return [gte(operations.id, ids.lo), lte(operations.id, ids.hi)];
}

/** The columns SQLite's `operations` has: all but the log's `txid`, which is no part of an operation's view. */
const { txid: _txid, ...operationColumns } = getTableColumns(operations);

export async function listOperations(
  db: PgDb,
  filter: OperationFilter,
  page: { limit: number; cursor?: string },
): Promise<ReturnType<typeof sqlite.listOperations>> {
  const where = [
    ...operationWhere(filter, filter.q ? await matchSearch(db, filter.q) : undefined),
    ...(await timeWindowWhere(db, filter)),
  ];
  const before = page.cursor ? decodeCursor(page.cursor) : null;
  if (before !== null) where.push(lt(operations.id, before));
  const rows = await db
    .select(operationColumns)
    .from(operations)
    .where(and(...where))
    .orderBy(desc(operations.id))
    .limit(page.limit + 1);
  const more = rows.length > page.limit;
  const items = (more ? rows.slice(0, page.limit) : rows).map(toOperationView);
  return { items, nextCursor: more ? encodeCursor(rows[page.limit - 1].id) : null };
}

export async function getOperation(db: PgDb, id: number): Promise<ReturnType<typeof sqlite.getOperation>> {
  const [row] = await db.select(operationColumns).from(operations).where(eq(operations.id, id));
  if (!row) return null;
  const [body] = await db.select().from(bodies).where(eq(bodies.operationId, id));
  return {
    ...toOperationView(row),
    requestBody: body?.requestBody ?? null,
    requestTruncated: body?.requestTruncated ?? false,
    responseBody: body?.responseBody ?? null,
    responseTruncated: body?.responseTruncated ?? false,
  };
}
