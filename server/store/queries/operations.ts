import { and, desc, eq, gte, lt, lte, or, type SQL, sql } from 'drizzle-orm';
import { z } from 'zod';
import {
  errorCodes,
  operationKinds,
  operationStatuses,
  provisioningActions,
  resourceTypes,
} from '../../scim/types.js';
import type { Db } from '../db.js';
import { bodies, operations } from '../schema/index.js';
import { decodeCursor, encodeCursor } from './cursor.js';

const isoOrMs = z.union([z.coerce.number().int().nonnegative(), z.iso.datetime({ offset: true })]).transform((v) =>
  typeof v === 'number' ? v : Date.parse(v),
);

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

export function operationWhere(f: OperationFilter): SQL[] {
  const w: SQL[] = [];
  if (f.cycle !== undefined) w.push(eq(operations.cycleId, f.cycle));
  if (f.identity !== undefined) {
    const asId = /^\d+$/.test(f.identity) ? Number(f.identity) : null;
    w.push(
      or(
        eq(operations.identity, f.identity),
        eq(operations.targetId, f.identity),
        asId === null ? undefined : eq(operations.identityId, asId),
      )!,
    );
  }
  if (f.resourceType) w.push(eq(operations.resourceType, f.resourceType));
  if (f.operation) w.push(eq(operations.operation, f.operation));
  if (f.action) w.push(eq(operations.provisioningAction, f.action));
  if (f.status) w.push(eq(operations.status, f.status));
  if (f.httpStatus !== undefined) w.push(eq(operations.httpStatus, f.httpStatus));
  if (f.errorCode) w.push(eq(operations.errorCode, f.errorCode));
  if (f.from !== undefined) w.push(gte(operations.time, f.from));
  if (f.to !== undefined) w.push(lte(operations.time, f.to));
  if (f.q) {
    const like = `%${f.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    w.push(
      sql`(${operations.identity} like ${like} escape '\\' or ${operations.path} like ${like} escape '\\' or ${operations.reason} like ${like} escape '\\' or ${operations.targetId} like ${like} escape '\\')`,
    );
  }
  return w;
}

export type OperationRow = typeof operations.$inferSelect;

export interface OperationView extends Omit<OperationRow, 'modifiedProperties' | 'members' | 'time'> {
  time: string;
  modifiedProperties: { name: string; value: string; redacted?: boolean }[];
  members: { op: string; ids: string[] }[];
}

export function toOperationView(row: OperationRow): OperationView {
  return {
    ...row,
    time: new Date(row.time).toISOString(),
    modifiedProperties: safeJson(row.modifiedProperties),
    members: safeJson(row.members),
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
  const where = operationWhere(filter);
  const before = page.cursor ? decodeCursor(page.cursor) : null;
  if (before !== null) where.push(lt(operations.id, before));
  const rows = db
    .select()
    .from(operations)
    .where(and(...where))
    .orderBy(desc(operations.id))
    .limit(page.limit + 1)
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
