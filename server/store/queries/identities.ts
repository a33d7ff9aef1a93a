import { and, asc, type Column, desc, eq, lt, type SQL, sql } from 'drizzle-orm';
import { alias } from 'drizzle-orm/sqlite-core';
import { z } from 'zod';
import { identityTypes, operationStatuses } from '../../vocabulary.js';
import type { Db } from '../db.js';
import { identities, memberships, operations } from '../schema/index.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { type LikeMatch, likePattern, sqliteLike, toOperationView } from './operations.js';

export type IdentityRow = typeof identities.$inferSelect;

const flag = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

/** Filters of /api/identities (ARCHITECTURE §8). */
export const identityFilterSchema = z
  .object({
    type: z.enum(identityTypes).optional(),
    /** the identity's last status */
    status: z.enum(operationStatuses).optional(),
    /** text in the name (userName / displayName), externalId or target id */
    q: z.string().trim().min(1).max(200).optional(),
    /** true: failed in the last cycle it appeared in (failing streak ≥ 1); false: not failing */
    failing: flag.optional(),
    deleted: flag.optional(),
  })
  .strict();
export type IdentityFilter = z.infer<typeof identityFilterSchema>;

export function identityWhere(f: IdentityFilter): SQL[] {
  return identityConditions(identities, f, sqliteLike);
}

/** The identities columns a filter reads: SQLite's table or PostgreSQL's (schema-pg mirrors the names). */
export type IdentityFilterColumns = Record<
  'type' | 'lastStatus' | 'failingStreak' | 'deleted' | 'name' | 'externalId' | 'targetId',
  Column
>;

/** The filter's conditions over either store's table, `like` being its substring match (ASCII letters folded). */
export function identityConditions(t: IdentityFilterColumns, f: IdentityFilter, like: LikeMatch): SQL[] {
  const w: SQL[] = [];
  if (f.type) w.push(eq(t.type, f.type));
  if (f.status) w.push(eq(t.lastStatus, f.status));
  if (f.failing === true) w.push(sql`${t.failingStreak} > 0`);
  if (f.failing === false) w.push(eq(t.failingStreak, 0));
  if (f.deleted !== undefined) w.push(eq(t.deleted, f.deleted));
  if (f.q) {
    const pattern = likePattern(f.q);
    w.push(sql`(${like(t.name, pattern)} or ${like(t.externalId, pattern)} or ${like(t.targetId, pattern)})`);
  }
  return w;
}

/** Newest first (by id: the order identities were first seen). */
export function listIdentities(db: Db, filter: IdentityFilter, page: { limit: number; cursor?: string }) {
  const where = identityWhere(filter);
  const before = page.cursor ? decodeCursor(page.cursor) : null;
  if (before !== null) where.push(lt(identities.id, before));
  const rows = db
    .select()
    .from(identities)
    .where(and(...where))
    .orderBy(desc(identities.id))
    .limit(page.limit + 1)
    .all();
  const more = rows.length > page.limit;
  const items = more ? rows.slice(0, page.limit) : rows;
  return { items, nextCursor: more ? encodeCursor(items[items.length - 1].id) : null };
}

export function getIdentityRow(db: Db, id: number): IdentityRow | undefined {
  return db.select().from(identities).where(eq(identities.id, id)).get();
}

export interface MembershipItem {
  /** the group (for a user) or the member (for a group); null when scimtap never saw that object */
  identityId: number | null;
  name: string | null;
  targetId: string | null;
  since: number;
}

/**
 * A group's members, or the groups a user is a member of, as seen in member PATCHes. Capped: a group of
 * 50,000 members is summarised by `total`.
 */
export function identityMemberships(db: Db, identity: IdentityRow, limit = 1000) {
  const other = alias(identities, 'other');
  if (identity.type === 'Group') {
    const where = eq(memberships.groupIdentityId, identity.id);
    const items = db
      .select({
        identityId: other.id,
        name: other.name,
        targetId: memberships.memberTargetId,
        since: memberships.since,
      })
      .from(memberships)
      .leftJoin(other, and(eq(other.type, 'User'), eq(other.targetId, memberships.memberTargetId)))
      .where(where)
      .orderBy(asc(memberships.memberTargetId))
      .limit(limit)
      .all();
    const total = db.select({ n: sql<number>`count(*)` }).from(memberships).where(where).get()?.n ?? 0;
    return { role: 'members' as const, items: dedupe(items), total };
  }
  if (!identity.targetId) return { role: 'groups' as const, items: [] as MembershipItem[], total: 0 };
  const where = eq(memberships.memberTargetId, identity.targetId);
  const items = db
    .select({ identityId: other.id, name: other.name, targetId: other.targetId, since: memberships.since })
    .from(memberships)
    .innerJoin(other, eq(other.id, memberships.groupIdentityId))
    .where(where)
    .orderBy(asc(other.name))
    .limit(limit)
    .all();
  const total = db.select({ n: sql<number>`count(*)` }).from(memberships).where(where).get()?.n ?? 0;
  return { role: 'groups' as const, items, total };
}

/** Two identity rows can share a target id (an object deleted and re-created); list each member once. */
function dedupe(items: MembershipItem[]): MembershipItem[] {
  const seen = new Set<string | null>();
  return items.filter((i) => {
    if (seen.has(i.targetId)) return false;
    seen.add(i.targetId);
    return true;
  });
}

/** Every operation on the identity, newest first, by the (identity_id, id) index. */
export function identityTimeline(db: Db, identityId: number, page: { limit: number; cursor?: string }) {
  const before = page.cursor ? decodeCursor(page.cursor) : null;
  const rows = db
    .select()
    .from(operations)
    .where(
      and(eq(operations.identityId, identityId), before !== null ? lt(operations.id, before) : undefined),
    )
    .orderBy(desc(operations.id))
    .limit(page.limit + 1)
    .all();
  const more = rows.length > page.limit;
  const items = (more ? rows.slice(0, page.limit) : rows).map(toOperationView);
  return { items, nextCursor: more ? encodeCursor(rows[page.limit - 1].id) : null };
}
