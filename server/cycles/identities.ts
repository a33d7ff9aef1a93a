import type { IdentityKeys, RollupQueries } from '../store/queries/rollups.js';
import type { IdentityType } from '../vocabulary.js';
import { applyOutcome, type IdentityOutcome } from './identity.js';
import type { CycleOperation, StoredCycleOperation } from './rollup.js';

/** An identity's rollup as the cycles stage keeps it: its outcome (the identity fold's state) and how it is found. */
export interface IdentityEntry extends IdentityOutcome {
  id: number;
  type: IdentityType;
  targetId: string | null;
}

/** entries kept in each identity cache before it is emptied */
const cacheLimit = 50_000;

/**
 * The identities half of the cycles stage: finds (or creates) the identity each operation is about, folds the
 * operation into its outcome (identity.ts), follows group memberships, and writes the touched rows once per batch.
 * Read-through caches of identity rows, so a busy identity costs no SELECT per batch. Every write to these rows
 * goes through here and updates them too; `clear` (after a rollback) empties them. Bounded by clearing when full.
 */
export function createIdentityRollups(q: RollupQueries) {
  const outcomes = new Map<number, IdentityEntry>();
  const touched = new Set<number>();
  const keysByTarget = new Map<string, IdentityKeys>();
  let count = q.countIdentities();

  function insert(
    op: CycleOperation,
    type: IdentityType,
    targetId: string | null,
    name: string | null,
  ): number {
    const key = targetId ?? (name as string);
    const externalId = op.externalId || null;
    const { id, inserted } = q.insertIdentity({ type, key, name, externalId, targetId }, op.time);
    if (inserted) count++;
    if (targetId !== null) keysByTarget.set(`${type}\n${targetId}`, { id, name, targetId, externalId });
    return id;
  }

  /** The identity an operation is about, by target id, else by name; null for operations about no object. */
  function resolve(op: CycleOperation): number | null {
    const type = op.identityType;
    if (type === null || op.operation === 'testConnection' || op.operation === 'list') return null;
    const targetId = op.targetId || null;
    const name = op.identity || null;
    const ok = op.status !== 'failure';
    let row: IdentityKeys | undefined;
    if (targetId !== null) {
      const cacheKey = `${type}\n${targetId}`;
      row = keysByTarget.get(cacheKey) ?? q.findByTarget(type, targetId);
      if (!row && name !== null) {
        const byName = q.findByName(type, name);
        // Found by name and not yet tied to an id: this answer (a lookup or a create) ties it.
        if (byName && byName.targetId === null) {
          q.linkTarget(byName.id, targetId);
          row = { ...byName, targetId };
          const linked = outcomes.get(byName.id);
          if (linked) linked.targetId = targetId;
        }
      }
      if (row) keysByTarget.set(cacheKey, row);
    } else if (name !== null) {
      row = q.findByName(type, name);
      // One object per identity: a rename learnt here must reach the copy the target id finds (a later PATCH
      // or DELETE is labelled with its name), as it would after a restart emptied the cache.
      const cached = row?.targetId ? keysByTarget.get(`${type}\n${row.targetId}`) : undefined;
      if (cached && cached.id === row?.id) row = cached;
    } else {
      return null;
    }
    if (!row) return insert(op, type, targetId, name);
    learnNames(q, op, row, name, ok);
    return row.id;
  }

  function entry(id: number): IdentityEntry {
    touched.add(id);
    const cached = outcomes.get(id);
    if (cached) return cached;
    const row = q.loadIdentity(id);
    const e: IdentityEntry = {
      ...row,
      active: row.active === null ? null : row.active === 1,
      deleted: row.deleted === 1,
    };
    outcomes.set(id, e);
    return e;
  }

  return {
    resolve,
    entry,
    /** folds a stored operation into its identity's outcome and memberships */
    fold(op: StoredCycleOperation, identity: IdentityEntry): void {
      Object.assign(identity, applyOutcome(identity, op));
      applyMemberships(q, op, identity);
    },
    /** writes the rows touched since the last call */
    persist(): void {
      for (const id of touched) {
        const e = outcomes.get(id) as IdentityEntry;
        q.updateIdentity({
          ...e,
          active: e.active === null ? null : e.active ? 1 : 0,
          deleted: e.deleted ? 1 : 0,
        });
      }
      touched.clear();
      if (outcomes.size > cacheLimit) outcomes.clear();
      if (keysByTarget.size > cacheLimit) keysByTarget.clear();
    },
    /** forget every cached row (the database is the truth again) */
    clear(): void {
      outcomes.clear();
      touched.clear();
      keysByTarget.clear();
      count = q.countIdentities();
    },
    /** identities known so far (a cycle records how many there were when it opened) */
    count: () => count,
  };
}

/**
 * What an operation on a known identity says of its names: the log gets the name scimtap knows when the call
 * carried none, and a successful answer renames it or gives it an externalId. `name` is the operation's own.
 */
function learnNames(
  q: RollupQueries,
  op: CycleOperation,
  row: IdentityKeys,
  name: string | null,
  ok: boolean,
): void {
  // Calls addressed by id (PATCH, DELETE, member changes) carry no name: give the log the name scimtap knows,
  // as Entra's own provisioning log names the target of a delete.
  if (name === null && row.name) op.identity = row.name;
  // A successful answer that names the object differently is a rename (group displayName, userName change).
  if (ok && name !== null && name !== row.name) {
    q.rename(row.id, name);
    row.name = name;
  }
  if (op.externalId && op.externalId !== row.externalId && (ok || row.externalId === null)) {
    q.setExternalId(row.id, op.externalId);
    row.externalId = op.externalId;
  }
}

/** A successful operation's effect on group memberships: member changes, and a deleted group or user leaving them. */
function applyMemberships(q: RollupQueries, op: StoredCycleOperation, identity: IdentityEntry): void {
  if (op.status === 'failure') return;
  if (identity.type === 'Group') {
    for (const change of op.members) {
      if (change.op === 'replace') q.clearGroup(identity.id);
      for (const member of change.ids) {
        if (change.op === 'remove') q.removeMember(identity.id, member);
        else q.addMember(identity.id, member, op.time);
      }
    }
    if (op.operation === 'delete') q.clearGroup(identity.id);
  } else if (op.operation === 'delete' && identity.targetId) {
    q.removeMemberEverywhere(identity.targetId);
  }
}
