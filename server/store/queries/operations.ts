import { and, type Column, desc, eq, gte, inArray, lt, lte, or, type SQL, sql } from 'drizzle-orm';
import { z } from 'zod';
import {
  errorCodes,
  operationKinds,
  operationStatuses,
  provisioningActions,
  resourceTypes,
} from '../../scim/types.js';
import type { RenamedKey } from '../../vocabulary.js';
import type { Db } from '../db.js';
import { bodies, operations, operationTerms } from '../schema/index.js';
import { decodeCursor, encodeCursor } from './cursor.js';

const isoOrMs = z
  .union([z.coerce.number().int().nonnegative(), z.iso.datetime({ offset: true })])
  .transform((v) => (typeof v === 'number' ? v : Date.parse(v)));

/** Filters shared by /api/operations and /api/export.csv (ARCHITECTURE §8). */
export const operationFilterSchema = z
  .object({
    cycle: z.coerce.number().int().positive().optional(),
    identity: z.string().min(1).max(512).optional(),
    resourceType: z.enum(resourceTypes).optional(),
    operation: z.enum(operationKinds).optional(),
    action: z.enum(provisioningActions).optional(),
    status: z.enum(operationStatuses).optional(),
    httpStatus: z.coerce.number().int().min(100).max(599).optional(),
    errorCode: z.enum(errorCodes).optional(),
    from: isoOrMs.optional(),
    to: isoOrMs.optional(),
    q: z.string().min(1).max(200).optional(),
  })
  .strict();
export type OperationFilter = z.infer<typeof operationFilterSchema>;

export const pageSchema = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z
    .string()
    .optional()
    .refine((c) => c === undefined || decodeCursor(c) !== null, 'not a cursor returned by this API'),
});

/**
 * The values `q` matched in operation_terms (distinct identities, target ids, reasons), or 'dense' when so many
 * match that the id-ordered LIKE scan meets a page of rows sooner than the index lookups would.
 */
export type SearchMatch = { identity: string[]; targetId: string[]; reason: string[] } | 'dense';

export const maxSearchTerms = 200;

/** `q` is a substring of the identity, target id or error reason; a pasted path searches by its last segment. */
export function searchText(q: string): string {
  if (!q.includes('/')) return q;
  return q.split('/').filter(Boolean).pop() ?? q;
}

export function likePattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

export function matchSearch(db: Db, q: string): SearchMatch {
  const rows = db
    .select()
    .from(operationTerms)
    .where(sql`${operationTerms.value} like ${likePattern(searchText(q))} escape '\\'`)
    .limit(maxSearchTerms + 1)
    .all();
  return toSearchMatch(rows);
}

/** Matched terms (at most `maxSearchTerms` + 1 read) by field, or 'dense' when there were more (both stores). */
export function toSearchMatch(rows: { field: string; value: string }[]): SearchMatch {
  if (rows.length > maxSearchTerms) return 'dense';
  const match = { identity: [] as string[], targetId: [] as string[], reason: [] as string[] };
  for (const r of rows) match[r.field as keyof typeof match]?.push(r.value);
  return match;
}

/** `search` is `matchSearch(db, f.q)`; without it `q` becomes a LIKE scan (correct, slow on a rare term). */
export function operationWhere(f: OperationFilter, search?: SearchMatch): SQL[] {
  return operationConditions(operations, f, search, sqliteLike);
}

/** The operations columns a filter reads: SQLite's table or PostgreSQL's (schema-pg mirrors the names). */
export type FilterColumns = Record<
  | 'cycleId'
  | 'identity'
  | 'targetId'
  | 'identityId'
  | 'resourceType'
  | 'operation'
  | 'provisioningAction'
  | 'status'
  | 'httpStatus'
  | 'errorCode'
  | 'time'
  | 'reason',
  Column
>;

/** A substring match as the store spells it, with `likePattern`'s escapes; ASCII letters folded on both. */
export type LikeMatch = (column: Column, pattern: string) => SQL;

/** SQLite's: its LIKE folds ASCII letters only. */
export const sqliteLike: LikeMatch = (column, pattern) => sql`${column} like ${pattern} escape '\\'`;

/**
 * The filter's conditions over either store's table, `like` being its substring match. Digits beyond 2^53 are no
 * row's id: SQLite compares them and finds none, PostgreSQL would refuse the parameter, so neither is asked.
 */
export function operationConditions(
  t: FilterColumns,
  f: OperationFilter,
  search: SearchMatch | undefined,
  like: LikeMatch,
): SQL[] {
  const w: SQL[] = [];
  if (f.cycle !== undefined) w.push(eq(t.cycleId, f.cycle));
  if (f.identity !== undefined) {
    const asId = /^\d+$/.test(f.identity) ? Number(f.identity) : null;
    w.push(
      or(
        eq(t.identity, f.identity),
        eq(t.targetId, f.identity),
        asId === null || !Number.isSafeInteger(asId) ? undefined : eq(t.identityId, asId),
      )!,
    );
  }
  if (f.resourceType) w.push(eq(t.resourceType, f.resourceType));
  if (f.operation) w.push(eq(t.operation, f.operation));
  if (f.action) w.push(eq(t.provisioningAction, f.action));
  if (f.status) w.push(eq(t.status, f.status));
  if (f.httpStatus !== undefined) w.push(eq(t.httpStatus, f.httpStatus));
  if (f.errorCode) w.push(eq(t.errorCode, f.errorCode));
  if (f.from !== undefined) w.push(gte(t.time, f.from));
  if (f.to !== undefined) w.push(lte(t.time, f.to));
  if (f.q && search && search !== 'dense') {
    const terms = [
      search.identity.length ? inArray(t.identity, search.identity) : undefined,
      search.targetId.length ? inArray(t.targetId, search.targetId) : undefined,
      search.reason.length ? inArray(t.reason, search.reason) : undefined,
    ].filter((c) => c !== undefined);
    // 1 = 0 rather than false: the same text on both stores.
    w.push(terms.length ? or(...terms)! : sql`1 = 0`);
  } else if (f.q) {
    const pattern = likePattern(searchText(f.q));
    w.push(sql`(${like(t.identity, pattern)} or ${like(t.targetId, pattern)} or ${like(t.reason, pattern)})`);
  }
  return w;
}

/**
 * The exact id range of the rows inside the `from`/`to` window, read from the time index alone (min and max
 * id, no row reads). Added to a query as `id between`, it lets SQLite walk only the window in another
 * filter's (x, id) index or in the table, instead of every newer row. Ids follow time closely (rows are
 * inserted as exchanges finish), so the window's size is estimated from two index seeks first: a window wider
 * than `maxRows` that reaches the newest rows is left as is (reading its ids would cost more than the id-ordered
 * scan, which finds its rows at once). Null: no time filter or left as is; 'empty': no row in the window.
 */
export function timeWindowIds(
  db: Db,
  f: Pick<OperationFilter, 'from' | 'to'>,
  maxRows = 200_000,
): { lo: number; hi: number } | 'empty' | null {
  if (f.from === undefined && f.to === undefined) return null;
  const sqlite = db.$client;
  const firstIdAt = (t: number) =>
    (
      sqlite.prepare('select id from operations where time >= ? order by time limit 1').get(t) as
        | { id: number }
        | undefined
    )?.id ?? Number.MAX_SAFE_INTEGER;
  const start = f.from === undefined ? 0 : firstIdAt(f.from);
  const end = f.to === undefined ? Number.MAX_SAFE_INTEGER : firstIdAt(f.to + 1);
  const last =
    (sqlite.prepare('select max(id) as id from operations').get() as { id: number | null }).id ?? 0;
  const newer = Math.max(0, last + 1 - end);
  if (Math.min(end, last + 1) - start > maxRows && newer < maxRows / 4) return null;
  const r = sqlite
    .prepare('select min(id) as lo, max(id) as hi from operations where time >= ? and time <= ?')
    .get(f.from ?? Number.MIN_SAFE_INTEGER, f.to ?? Number.MAX_SAFE_INTEGER) as {
    lo: number | null;
    hi: number | null;
  };
  return r.lo === null || r.hi === null ? 'empty' : { lo: r.lo, hi: r.hi };
}

function timeWindowWhere(db: Db, f: OperationFilter): SQL[] {
  const ids = timeWindowIds(db, f);
  if (ids === null) return [];
  if (ids === 'empty') return [sql`0`];
  return [gte(operations.id, ids.lo), lte(operations.id, ids.hi)];
}

export type OperationRow = typeof operations.$inferSelect;

/** An operation as the API shows it: the CSV's names for the fields both carry (server/vocabulary.ts). */
export interface OperationView extends Omit<OperationRow, 'modifiedProperties' | 'members' | RenamedKey> {
  /** ISO 8601 UTC; stored as `time` (ms) */
  activityDateTime: string;
  /** stored as `durationMs` */
  durationInMilliseconds: number;
  modifiedProperties: { name: string; value: string; redacted?: boolean }[];
  members: { op: string; ids: string[] }[];
}

export function toOperationView(row: OperationRow): OperationView {
  const { id, time, durationMs, modifiedProperties, members, ...rest } = row;
  return {
    id,
    activityDateTime: new Date(time).toISOString(),
    ...rest,
    durationInMilliseconds: durationMs,
    modifiedProperties: safeJson(modifiedProperties),
    members: safeJson(members),
  };
}

function safeJson<T>(text: string): T[] {
  try {
    return JSON.parse(text) as T[];
  } catch {
    return [];
  }
}

export function listOperations(db: Db, filter: OperationFilter, page: { limit: number; cursor?: string }) {
  const where = [
    ...operationWhere(filter, filter.q ? matchSearch(db, filter.q) : undefined),
    ...timeWindowWhere(db, filter),
  ];
  const before = page.cursor ? decodeCursor(page.cursor) : null;
  if (before !== null) where.push(lt(operations.id, before));
  // Ids first, then rows: a time-range page is then read from the time index alone (covering) and sorted
  // there, instead of fetching every row in the range.
  const ids = db
    .select({ id: operations.id })
    .from(operations)
    .where(and(...where))
    .orderBy(desc(operations.id))
    .limit(page.limit + 1);
  const rows = db
    .select()
    .from(operations)
    .where(inArray(operations.id, ids))
    .orderBy(desc(operations.id))
    .all();
  const more = rows.length > page.limit;
  const items = (more ? rows.slice(0, page.limit) : rows).map(toOperationView);
  return { items, nextCursor: more ? encodeCursor(rows[page.limit - 1].id) : null };
}

export function getOperation(db: Db, id: number) {
  const row = db.select().from(operations).where(eq(operations.id, id)).get();
  if (!row) return null;
  const body = db.select().from(bodies).where(eq(bodies.operationId, id)).get();
  return {
    ...toOperationView(row),
    requestBody: body?.requestBody ?? null,
    requestTruncated: body?.requestTruncated ?? false,
    responseBody: body?.responseBody ?? null,
    responseTruncated: body?.responseTruncated ?? false,
  };
}
