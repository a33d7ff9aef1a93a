import type { Meta } from '../../meta.js';
import type { CycleRow } from '../../queries/cycles.js';
import {
  type IdentityKeys,
  type IdentityOutcomeRow,
  identityOutcomeKeys,
  type RollupQueries,
} from '../../queries/rollups.js';
import type { TermSink } from '../../terms.js';
import type { IdentityRow, Workspace } from './workspace.js';

// The stages' store on PostgreSQL: the same synchronous interfaces as SQLite's (queries/rollups.ts, meta.ts,
// terms.ts), answered from the workspace and buffered there for the batch's write-back. Each method does what
// its SQLite statement does, including the "or ignore" cases, so the stages cannot tell the stores apart.

/** A new cycle's row as SQLite's insert leaves it: the columns it names, the schema's defaults for the rest. */
function newCycleRow(c: Parameters<RollupQueries['insertCycle']>[0]): Omit<CycleRow, 'id'> {
  return {
    startedAt: c.startedAt,
    endedAt: c.startedAt,
    state: 'running',
    kind: c.kind as CycleRow['kind'],
    probeOperationId: null,
    probeStatus: c.probeStatus,
    probeOutcome: c.probeOutcome as CycleRow['probeOutcome'],
    probeErrorCode: c.probeErrorCode as CycleRow['probeErrorCode'],
    total: 0,
    successes: 0,
    failures: 0,
    warnings: 0,
    deletes: 0,
    throttled: 0,
    usersTouched: 0,
    groupsTouched: 0,
    membersTouched: 0,
    provisioningOps: 0,
    lookups: 0,
    knownIdentities: c.knownIdentities,
    countsByOperation: '{}',
    countsByErrorCode: '{}',
    latencyHistogram: '[]',
    latencySumMs: 0,
    latencyMaxMs: 0,
    expectedObjects: null,
    processedObjects: 0,
    closedAt: null,
  };
}

type NewIdentity = Parameters<RollupQueries['insertIdentity']>[0];

/** A new identity's row as SQLite's insert leaves it (schema/identities.ts defaults). */
function newIdentityRow(r: NewIdentity, time: number): Omit<IdentityRow, 'id'> {
  return {
    type: r.type as IdentityRow['type'],
    key: r.key,
    name: r.name,
    externalId: r.externalId,
    targetId: r.targetId,
    lastOperation: null,
    lastOperationId: null,
    lastStatus: null,
    lastHttpStatus: null,
    lastErrorOperationId: null,
    lastErrorHttpStatus: null,
    lastErrorCode: null,
    lastReason: null,
    lastErrorAt: null,
    failingStreak: 0,
    failingSince: null,
    streakBase: 0,
    lastCycleId: null,
    lastFailedCycleId: null,
    firstSeen: time,
    lastSeen: time,
    active: null,
    deleted: false,
  };
}

/** A copy: the stage keeps and changes what a find returns (its cache), which must not touch the workspace. */
const keysOf = (row: IdentityRow | undefined): IdentityKeys | undefined =>
  row && { id: row.id, name: row.name, targetId: row.targetId, externalId: row.externalId };

/** The outcome columns updateIdentity sets (SQLite's statement leaves id, type and targetId alone). */
const updatedOutcomeKeys = identityOutcomeKeys.filter((k) => k !== 'id' && k !== 'type' && k !== 'targetId');

export function createPgRollupQueries(ws: Workspace): RollupQueries {
  return {
    insertCycle: (c) => ws.cycle.insert(newCycleRow(c)),
    updateCycle: (row) => ws.cycle.update(row),
    runningCycles: () => ws.cycle.running().map((c) => ({ ...c })),
    lastCadenceStart: () => ws.cycle.history().cadence?.startedAt ?? null,
    seenScheduled: () => ws.cycle.history().scheduled !== null,
    lastInitialProcessed: () => ws.cycle.history().initial?.processedObjects ?? null,
    countIdentities: () => ws.identity.count(),
    findByTarget: (type, targetId) => keysOf(ws.identity.byTarget(type, targetId)),
    findByName: (type, name) => keysOf(ws.identity.byName(type, name)),
    insertIdentity(row, time) {
      // INSERT OR IGNORE on the unique (type, key): the row holding the key answers instead. SQLite drew the new
      // row's id before the conflict, and AUTOINCREMENT remembers it: the next identity's id skips it.
      const holder = ws.identity.byKey(row.type, row.key);
      if (holder) {
        ws.identity.spendId();
        return { id: holder.id, inserted: false };
      }
      return { id: ws.identity.insert(newIdentityRow(row, time)).id, inserted: true };
    },
    linkTarget(id, targetId) {
      ws.identity.update(id, { targetId });
      // UPDATE OR IGNORE of the key: a key another row holds stays where it is; the row's own is no change.
      const row = ws.identity.get(id);
      if (row.key !== targetId && !ws.identity.byKey(row.type, targetId))
        ws.identity.update(id, { key: targetId });
    },
    rename: (id, name) => void ws.identity.update(id, { name }),
    setExternalId: (id, externalId) => void ws.identity.update(id, { externalId }),
    loadIdentity(id) {
      const row = ws.identity.get(id);
      const out: Record<string, unknown> = {};
      for (const k of identityOutcomeKeys) out[k] = row[k];
      // SQLite's booleans, which is what the stage converts from.
      return {
        ...out,
        active: row.active === null ? null : row.active ? 1 : 0,
        deleted: row.deleted ? 1 : 0,
      } as IdentityOutcomeRow;
    },
    updateIdentity(row) {
      const change: Record<string, unknown> = {};
      for (const k of updatedOutcomeKeys) change[k] = row[k];
      change.active = row.active === null ? null : row.active === 1;
      change.deleted = row.deleted === 1;
      ws.identity.update(row.id, change as Partial<IdentityRow>);
    },
    addMember: (groupId, member, since) =>
      ws.write({
        table: 'memberships',
        op: 'add',
        row: { groupIdentityId: groupId, memberTargetId: member, since },
      }),
    removeMember: (groupId, member) =>
      ws.write({
        table: 'memberships',
        op: 'remove',
        row: { groupIdentityId: groupId, memberTargetId: member },
      }),
    clearGroup: (groupId) => ws.write({ table: 'memberships', op: 'clearGroup', groupId }),
    removeMemberEverywhere: (member) => ws.write({ table: 'memberships', op: 'removeEverywhere', member }),
  };
}

/** The client stage's `meta`: the keys the workspace prefetched. */
export function createPgMeta(ws: Workspace): Meta {
  return {
    get: (key) => ws.meta.get(key),
    set: (key, value) => ws.meta.set(key, value),
    number(key) {
      const n = Number(ws.meta.get(key) ?? 0);
      return Number.isFinite(n) ? n : 0;
    },
  };
}

/** The terms stage's sink: insert-or-ignore, written with the batch. */
export function createPgTermSink(ws: Workspace): TermSink {
  return {
    addTerm: (field, value) => ws.write({ table: 'operation_terms', op: 'add', row: { field, value } }),
  };
}
