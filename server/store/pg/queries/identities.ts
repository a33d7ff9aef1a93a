import { and, asc, desc, eq, getTableColumns, lt, type SQL, sql } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import { decodeCursor, encodeCursor } from '../../queries/cursor.js';
import type * as sqlite from '../../queries/identities.js';
import { identityConditions } from '../../queries/identities.js';
import { toOperationView } from '../../queries/operations.js';
import { identities, memberships, operations } from '../../schema-pg/index.js';
import type { PgDb } from '../db.js';
import { ilike } from './operations.js';

// PostgreSQL twins of queries/identities.ts: the identities list, one identity, its memberships and timeline.

/**
 * queries/identities.ts's `identityWhere` over the pg table (the conditions are shared). `q` is SQLite's `like`,
 * which folds ASCII letters only: `ilike` under the "C" collation (./operations.ts). Not translate(column,
 * 'A..Z', 'a..z') `like`, which answered the same but cost 5 µs a value: 180 ms for 11,000 identities' three
 * columns, against 9 ms for this.
 */
export function identityWhere(f: sqlite.IdentityFilter): SQL[] {
  return identityConditions(identities, f, ilike);
}

/** Newest first (by id: the order identities were first seen). */
export async function listIdentities(
  db: PgDb,
  filter: sqlite.IdentityFilter,
  page: { limit: number; cursor?: string },
): Promise<ReturnType<typeof sqlite.listIdentities>> {
  const where = identityWhere(filter);
  const before = page.cursor ? decodeCursor(page.cursor) : null;
  if (before !== null) where.push(lt(identities.id, before));
  const rows = await db
    .select()
    .from(identities)
    .where(and(...where))
    .orderBy(desc(identities.id))
    .limit(page.limit + 1);
  const more = rows.length > page.limit;
  const items = more ? rows.slice(0, page.limit) : rows;
  return { items, nextCursor: more ? encodeCursor(items[items.length - 1].id) : null };
}

export async function getIdentityRow(db: PgDb, id: number): Promise<sqlite.IdentityRow | undefined> {
  const [row] = await db.select().from(identities).where(eq(identities.id, id));
  return row;
}

async function membershipTotal(db: PgDb, where: SQL): Promise<number> {
  const [row] = await db
    .select({ n: sql<number>`count(*)`.mapWith(Number) })
    .from(memberships)
    .where(where);
  return row?.n ?? 0;
}

/**
 * A group's members, or the groups a user is a member of (see queries/identities.ts). Text is ordered byte-wise
 * (`collate "C"`) and null names first, as SQLite orders them. Rows SQLite leaves tied come in identity id order:
 * its plan reads two identities of one target id that way, and groups of one name in the order their
 * memberships were stored, which follows the groups' ids.
 */
export async function identityMemberships(
  db: PgDb,
  identity: sqlite.IdentityRow,
  limit = 1000,
): Promise<ReturnType<typeof sqlite.identityMemberships>> {
  const other = alias(identities, 'other');
  if (identity.type === 'Group') {
    const where = eq(memberships.groupIdentityId, identity.id);
    const items = await db
      .select({
        identityId: other.id,
        name: other.name,
        targetId: memberships.memberTargetId,
        since: memberships.since,
      })
      .from(memberships)
      .leftJoin(other, and(eq(other.type, 'User'), eq(other.targetId, memberships.memberTargetId)))
      .where(where)
      .orderBy(sql`${memberships.memberTargetId} collate "C"`, asc(other.id))
      .limit(limit);
    return { role: 'members' as const, items: dedupe(items), total: await membershipTotal(db, where) };
  }
  if (!identity.targetId) return { role: 'groups' as const, items: [] as sqlite.MembershipItem[], total: 0 };
  const where = eq(memberships.memberTargetId, identity.targetId);
  const items = await db
    .select({ identityId: other.id, name: other.name, targetId: other.targetId, since: memberships.since })
    .from(memberships)
    .innerJoin(other, eq(other.id, memberships.groupIdentityId))
    .where(where)
    .orderBy(sql`${other.name} collate "C" asc nulls first`, asc(other.id))
    .limit(limit);
  return { role: 'groups' as const, items, total: await membershipTotal(db, where) };
}

/** Two identity rows can share a target id (an object deleted and re-created); list each member once. */
function dedupe(items: sqlite.MembershipItem[]): sqlite.MembershipItem[] {
  const seen = new Set<string | null>();
  return items.filter((i) => {
    if (seen.has(i.targetId)) return false;
    seen.add(i.targetId);
    return true;
  });
}

/** The operation columns SQLite has: pg's `txid` (the log's read order) is no part of an operation's view. */
const { txid: _txid, ...operationColumns } = getTableColumns(operations);

/** Every operation on the identity, newest first, by the (identity_id, id) index. */
export async function identityTimeline(
  db: PgDb,
  identityId: number,
  page: { limit: number; cursor?: string },
): Promise<ReturnType<typeof sqlite.identityTimeline>> {
  const before = page.cursor ? decodeCursor(page.cursor) : null;
  const rows = await db
    .select(operationColumns)
    .from(operations)
    .where(
      and(eq(operations.identityId, identityId), before !== null ? lt(operations.id, before) : undefined),
    )
    .orderBy(desc(operations.id))
    .limit(page.limit + 1);
  const more = rows.length > page.limit;
  const items = (more ? rows.slice(0, page.limit) : rows).map(toOperationView);
  return { items, nextCursor: more ? encodeCursor(rows[page.limit - 1].id) : null };
}
