import type { Config } from '../config.js';
import type { ClientKind, Operation } from '../scim/types.js';
import type { Db } from '../store/db.js';
import type { IngestStage } from '../store/ingest.js';
import { applyOutcome, type IdentityOutcome } from './identity.js';
import { bucketOf, emptyHistogram, parseHistogram } from './latency.js';
import {
  type CycleKind,
  closeIfSilent,
  cycleKind,
  initialSegmentState,
  isProvisioning,
  type SegmentState,
  segment,
} from './segment.js';

/** The fields of an operation this stage reads, plus the two it fills in. */
export type CycleOperation = Pick<
  Operation,
  | 'time'
  | 'durationMs'
  | 'httpStatus'
  | 'resourceType'
  | 'operation'
  | 'status'
  | 'identityType'
  | 'identity'
  | 'externalId'
  | 'targetId'
  | 'errorCode'
  | 'reason'
  | 'modifiedProperties'
  | 'members'
> & {
  cycleId: number | null;
  identityId: number | null;
  /** absent: the provisioning client's (harnesses that skip the clients stage) */
  clientKind?: ClientKind;
};

export type StoredCycleOperation = CycleOperation & { id: number };

export interface CycleStage extends IngestStage {
  beforeInsert(ops: CycleOperation[]): void;
  afterInsert(ops: StoredCycleOperation[]): void;
  onRollback(): void;
  /** Close the running cycle if `now` (default: the clock) is a full silence past its last operation. */
  closeStale(now?: number): boolean;
  /** id of the running cycle, if any */
  runningCycleId(): number | null;
}

export type CycleConfig = Pick<Config, 'cycleIntervalMin' | 'expectedObjects'> & {
  rules: Pick<Config['rules'], 'cycleGapMinutes'>;
};

export interface CycleStageOptions {
  db: Db;
  config: CycleConfig;
  clock?: () => number;
}

type Counts = { success: number; failure: number; warning: number };

/** The running cycle (and any closed in the current batch), kept in memory and written once per batch. */
interface CycleRollup {
  id: number;
  startedAt: number;
  endedAt: number;
  state: 'running' | 'completed';
  kind: CycleKind;
  probeOperationId: number | null;
  probeStatus: number | null;
  probeOutcome: string | null;
  probeErrorCode: string | null;
  total: number;
  successes: number;
  failures: number;
  warnings: number;
  deletes: number;
  throttled: number;
  usersTouched: number;
  groupsTouched: number;
  membersTouched: number;
  provisioningOps: number;
  lookups: number;
  knownIdentities: number;
  countsByOperation: Record<string, Counts>;
  countsByErrorCode: Record<string, number>;
  histogram: number[];
  latencySumMs: number;
  latencyMaxMs: number;
  expectedObjects: number | null;
  processedObjects: number;
  closedAt: number | null;
}

/** What earlier, completed cycles say about the next one's kind and expected size. */
interface History {
  /** start of the last completed cycle that was not on demand */
  cadenceStart: number | null;
  seenScheduled: boolean;
  lastInitialProcessed: number | null;
}

interface IdentityEntry extends IdentityOutcome {
  id: number;
  type: string;
  targetId: string | null;
}

interface IdentityKeys {
  id: number;
  name: string | null;
  targetId: string | null;
  externalId: string | null;
}

/** entries kept in each identity cache before it is emptied */
const cacheLimit = 50_000;

const identityColumns = `id, type, target_id as targetId, last_operation as lastOperation,
  last_operation_id as lastOperationId, last_status as lastStatus, last_http_status as lastHttpStatus,
  last_error_operation_id as lastErrorOperationId, last_error_http_status as lastErrorHttpStatus,
  last_error_code as lastErrorCode, last_reason as lastReason, last_error_at as lastErrorAt,
  failing_streak as failingStreak, failing_since as failingSince, streak_base as streakBase,
  last_cycle_id as lastCycleId, last_failed_cycle_id as lastFailedCycleId, last_seen as lastSeen,
  active, deleted`;

/**
 * The cycles/identities ingest stage (ARCHITECTURE §5). beforeInsert segments and finds each operation's
 * identity; afterInsert folds it into the cycle and identity rollups. Every step costs the same whatever the
 * history: indexed lookups by key, the running cycle in memory, one UPDATE per touched row per batch.
 */
export function createCycleStage({ db, config, clock = Date.now }: CycleStageOptions): CycleStage {
  const sqlite = db.$client;
  const gapMs = config.rules.cycleGapMinutes * 60_000;
  const intervalMs = config.cycleIntervalMin * 60_000;

  const q = {
    insertCycle:
      sqlite.prepare(`insert into cycles (started_at, ended_at, state, kind, probe_status, probe_outcome,
      probe_error_code, known_identities) values (?, ?, 'running', ?, ?, ?, ?, ?)`),
    updateCycle: sqlite.prepare(`update cycles set ended_at = @endedAt, state = @state, kind = @kind,
      probe_operation_id = @probeOperationId, total = @total, successes = @successes, failures = @failures,
      warnings = @warnings, deletes = @deletes, throttled = @throttled, users_touched = @usersTouched,
      groups_touched = @groupsTouched, members_touched = @membersTouched, provisioning_ops = @provisioningOps,
      lookups = @lookups, counts_by_operation = @countsByOperationJson, counts_by_error_code = @countsByErrorCodeJson,
      latency_histogram = @histogramJson, latency_sum_ms = @latencySumMs, latency_max_ms = @latencyMaxMs,
      expected_objects = @expectedObjects, processed_objects = @processedObjects, closed_at = @closedAt
      where id = @id`),
    runningCycles: sqlite.prepare(`select * from cycles where state = 'running' order by id`),
    lastCadence: sqlite.prepare(
      `select started_at as startedAt from cycles where state = 'completed' and kind != 'onDemand' order by id desc limit 1`,
    ),
    lastScheduled: sqlite.prepare(
      `select id from cycles where state = 'completed' and kind in ('initial', 'incremental') order by id desc limit 1`,
    ),
    lastInitial: sqlite.prepare(
      `select processed_objects as processed from cycles where state = 'completed' and kind = 'initial' order by id desc limit 1`,
    ),
    countIdentities: sqlite.prepare('select count(*) as n from identities').pluck(),
    findByTarget:
      sqlite.prepare(`select id, name, target_id as targetId, external_id as externalId from identities
      where type = ? and target_id = ? order by id desc limit 1`),
    findByName:
      sqlite.prepare(`select id, name, target_id as targetId, external_id as externalId from identities
      where type = ? and name = ? collate nocase order by id desc limit 1`),
    findByKey: sqlite.prepare('select id from identities where type = ? and key = ?').pluck(),
    insertIdentity: sqlite.prepare(`insert or ignore into identities (type, key, name, external_id, target_id,
      first_seen, last_seen) values (?, ?, ?, ?, ?, ?, ?)`),
    linkTarget: sqlite.prepare('update identities set target_id = ? where id = ?'),
    // A key already taken (a name equal to another object's id) keeps the old key rather than failing the batch.
    rekey: sqlite.prepare('update or ignore identities set key = ? where id = ?'),
    rename: sqlite.prepare('update identities set name = ? where id = ?'),
    setExternalId: sqlite.prepare('update identities set external_id = ? where id = ?'),
    loadIdentity: sqlite.prepare(`select ${identityColumns} from identities where id = ?`),
    updateIdentity: sqlite.prepare(`update identities set last_operation = @lastOperation,
      last_operation_id = @lastOperationId, last_status = @lastStatus, last_http_status = @lastHttpStatus,
      last_error_operation_id = @lastErrorOperationId, last_error_http_status = @lastErrorHttpStatus,
      last_error_code = @lastErrorCode, last_reason = @lastReason, last_error_at = @lastErrorAt,
      failing_streak = @failingStreak, failing_since = @failingSince, streak_base = @streakBase,
      last_cycle_id = @lastCycleId, last_failed_cycle_id = @lastFailedCycleId, last_seen = @lastSeen,
      active = @activeInt, deleted = @deletedInt where id = @id`),
    addMember: sqlite.prepare(
      'insert or ignore into memberships (group_identity_id, member_target_id, since) values (?, ?, ?)',
    ),
    removeMember: sqlite.prepare(
      'delete from memberships where group_identity_id = ? and member_target_id = ?',
    ),
    clearGroup: sqlite.prepare('delete from memberships where group_identity_id = ?'),
    removeMemberEverywhere: sqlite.prepare('delete from memberships where member_target_id = ?'),
  };

  let seg: SegmentState = initialSegmentState;
  let current: CycleRollup | null = null;
  let history: History = { cadenceStart: null, seenScheduled: false, lastInitialProcessed: null };
  let identityCount = 0;
  /** set when a reload after a rollback failed too (the disk is failing): reload before the next batch */
  let needsLoad = false;
  /** cycles touched by the batch in progress (the running one and any it closed) */
  const dirty = new Map<number, CycleRollup>();
  // Read-through caches of identity rows, so a busy identity costs no SELECT per batch. Every write to these rows
  // goes through this stage and updates them too; a rollback clears them (load). Bounded by clearing when full.
  const outcomes = new Map<number, IdentityEntry>();
  const touched = new Set<number>();
  const keysByTarget = new Map<string, IdentityKeys>();

  function load(): void {
    dirty.clear();
    outcomes.clear();
    touched.clear();
    keysByTarget.clear();
    const rows = q.runningCycles.all() as Record<string, unknown>[];
    // Only one cycle runs at a time; older ones left running (a crash between writes) are closed as they were.
    for (const row of rows.slice(0, -1)) {
      const stale = fromRow(row);
      stale.state = 'completed';
      stale.closedAt = stale.endedAt;
      writeCycle(stale);
    }
    const last = rows.at(-1);
    current = last ? fromRow(last) : null;
    seg = current
      ? {
          running: {
            startedAt: current.startedAt,
            lastTime: current.endedAt,
            probe: current.probeOutcome !== null,
            provisioning: current.provisioningOps > 0,
          },
        }
      : initialSegmentState;
    const cadence = q.lastCadence.get() as { startedAt: number } | undefined;
    const initial = q.lastInitial.get() as { processed: number } | undefined;
    history = {
      cadenceStart: cadence?.startedAt ?? null,
      seenScheduled: q.lastScheduled.get() !== undefined,
      lastInitialProcessed: initial?.processed ?? null,
    };
    identityCount = q.countIdentities.get() as number;
  }

  function openCycle(op: CycleOperation, byProbe: boolean): CycleRollup {
    const kind: CycleKind = byProbe ? 'testConnection' : 'incremental';
    const { lastInsertRowid } = q.insertCycle.run(
      op.time,
      op.time,
      kind,
      byProbe ? op.httpStatus : null,
      byProbe ? op.status : null,
      byProbe ? op.errorCode : null,
      identityCount,
    );
    return {
      id: Number(lastInsertRowid),
      startedAt: op.time,
      endedAt: op.time,
      state: 'running',
      kind,
      probeOperationId: null,
      probeStatus: byProbe ? op.httpStatus : null,
      probeOutcome: byProbe ? op.status : null,
      probeErrorCode: byProbe ? op.errorCode : null,
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
      knownIdentities: identityCount,
      countsByOperation: {},
      countsByErrorCode: {},
      histogram: emptyHistogram(),
      latencySumMs: 0,
      latencyMaxMs: 0,
      expectedObjects: null,
      processedObjects: 0,
      closedAt: null,
    };
  }

  function kindOf(c: CycleRollup): CycleKind {
    return cycleKind({
      probe: c.probeOutcome !== null,
      provisioningOps: c.provisioningOps,
      objects: c.usersTouched + c.groupsTouched,
      lookups: c.lookups,
      knownIdentities: c.knownIdentities,
      firstSeen: !history.seenScheduled,
      previousStart: history.cadenceStart,
      startedAt: c.startedAt,
      intervalMs,
    });
  }

  function writeCycle(c: CycleRollup): void {
    q.updateCycle.run({
      ...c,
      countsByOperationJson: JSON.stringify(c.countsByOperation),
      countsByErrorCodeJson: JSON.stringify(c.countsByErrorCode),
      histogramJson: JSON.stringify(c.histogram),
    });
  }

  /** Settle kinds in id order (a cycle's kind depends on the completed ones before it) and write. */
  function persist(): void {
    const list = [...dirty.values()].sort((a, b) => a.id - b.id);
    for (const c of list) {
      c.processedObjects = c.usersTouched + c.groupsTouched;
      c.kind = kindOf(c);
      c.expectedObjects =
        c.kind === 'initial' ? (config.expectedObjects ?? history.lastInitialProcessed ?? null) : null;
      writeCycle(c);
      if (c.state === 'completed') {
        if (c.kind !== 'onDemand') history.cadenceStart = c.startedAt;
        if (c.kind === 'initial' || c.kind === 'incremental') history.seenScheduled = true;
        if (c.kind === 'initial') history.lastInitialProcessed = c.processedObjects;
      }
    }
    dirty.clear();
    for (const id of touched) {
      const e = outcomes.get(id) as IdentityEntry;
      q.updateIdentity.run({
        ...e,
        activeInt: e.active === null ? null : e.active ? 1 : 0,
        deletedInt: e.deleted ? 1 : 0,
      });
    }
    touched.clear();
    if (outcomes.size > cacheLimit) outcomes.clear();
    if (keysByTarget.size > cacheLimit) keysByTarget.clear();
  }

  function resolveIdentity(op: CycleOperation): number | null {
    const type = op.identityType;
    if (type === null || op.operation === 'testConnection' || op.operation === 'list') return null;
    const targetId = op.targetId || null;
    const name = op.identity || null;
    const ok = op.status !== 'failure';
    let row: IdentityKeys | undefined;
    if (targetId !== null) {
      const cacheKey = `${type}\n${targetId}`;
      row = keysByTarget.get(cacheKey) ?? (q.findByTarget.get(type, targetId) as IdentityKeys | undefined);
      if (!row && name !== null) {
        const byName = q.findByName.get(type, name) as IdentityKeys | undefined;
        // Found by name and not yet tied to an id: this answer (a lookup or a create) ties it.
        if (byName && byName.targetId === null) {
          q.linkTarget.run(targetId, byName.id);
          q.rekey.run(targetId, byName.id);
          row = { ...byName, targetId };
          const linked = outcomes.get(byName.id);
          if (linked) linked.targetId = targetId;
        }
      }
      if (row) keysByTarget.set(cacheKey, row);
    } else if (name !== null) {
      row = q.findByName.get(type, name) as IdentityKeys | undefined;
    } else {
      return null;
    }
    if (!row) {
      const id = insertIdentity(type, targetId ?? (name as string), name, op.externalId, targetId, op.time);
      if (targetId !== null) {
        keysByTarget.set(`${type}\n${targetId}`, { id, name, targetId, externalId: op.externalId || null });
      }
      return id;
    }
    // Calls addressed by id (PATCH, DELETE, member changes) carry no name: give the log the name scimtap knows,
    // as Entra's own provisioning log names the target of a delete.
    if (name === null && row.name) op.identity = row.name;
    // A successful answer that names the object differently is a rename (group displayName, userName change).
    if (ok && name !== null && name !== row.name) {
      q.rename.run(name, row.id);
      row.name = name;
    }
    if (op.externalId && op.externalId !== row.externalId && (ok || row.externalId === null)) {
      q.setExternalId.run(op.externalId, row.id);
      row.externalId = op.externalId;
    }
    return row.id;
  }

  function insertIdentity(
    type: string,
    key: string,
    name: string | null,
    externalId: string | null,
    targetId: string | null,
    time: number,
  ): number {
    const { changes, lastInsertRowid } = q.insertIdentity.run(
      type,
      key,
      name,
      externalId || null,
      targetId,
      time,
      time,
    );
    if (changes > 0) {
      identityCount++;
      return Number(lastInsertRowid);
    }
    return q.findByKey.get(type, key) as number;
  }

  function identityEntry(id: number): IdentityEntry {
    touched.add(id);
    const cached = outcomes.get(id);
    if (cached) return cached;
    const row = q.loadIdentity.get(id) as Omit<IdentityEntry, 'active' | 'deleted'> & {
      active: number | null;
      deleted: number;
    };
    const e: IdentityEntry = {
      ...row,
      active: row.active === null ? null : row.active === 1,
      deleted: row.deleted === 1,
    };
    outcomes.set(id, e);
    return e;
  }

  function addToCycle(c: CycleRollup, op: StoredCycleOperation, identity: IdentityEntry | null): void {
    if (c.total === 0 && c.probeOutcome !== null && op.operation === 'testConnection')
      c.probeOperationId = op.id;
    c.total++;
    if (op.status === 'success') c.successes++;
    else if (op.status === 'failure') c.failures++;
    else c.warnings++;
    c.countsByOperation[op.operation] ??= { success: 0, failure: 0, warning: 0 };
    c.countsByOperation[op.operation][op.status]++;
    if (op.errorCode) c.countsByErrorCode[op.errorCode] = (c.countsByErrorCode[op.errorCode] ?? 0) + 1;
    if (op.operation === 'delete' || op.operation === 'disable') c.deletes++;
    if (op.httpStatus === 429) c.throttled++;
    if (isProvisioning(op)) c.provisioningOps++;
    if (op.operation === 'lookup') c.lookups++;
    for (const m of op.members) c.membersTouched += m.ids.length;
    const ms = Math.max(0, op.durationMs);
    c.histogram[bucketOf(ms)]++;
    c.latencySumMs += ms;
    if (ms > c.latencyMaxMs) c.latencyMaxMs = ms;
    if (identity && identity.lastCycleId !== c.id) {
      if (identity.type === 'User') c.usersTouched++;
      else c.groupsTouched++;
    }
  }

  function applyMemberships(op: StoredCycleOperation, identity: IdentityEntry): void {
    if (op.status === 'failure') return;
    if (identity.type === 'Group') {
      for (const change of op.members) {
        if (change.op === 'replace') q.clearGroup.run(identity.id);
        for (const member of change.ids) {
          if (change.op === 'remove') q.removeMember.run(identity.id, member);
          else q.addMember.run(identity.id, member, op.time);
        }
      }
      if (op.operation === 'delete') q.clearGroup.run(identity.id);
    } else if (op.operation === 'delete' && identity.targetId) {
      q.removeMemberEverywhere.run(identity.targetId);
    }
  }

  function closeCurrent(at: number): void {
    if (!current) return;
    current.state = 'completed';
    current.closedAt = at;
    dirty.set(current.id, current);
    current = null;
  }

  load();

  return {
    beforeInsert(ops) {
      if (needsLoad) {
        load();
        needsLoad = false;
      }
      for (const op of ops) {
        // Strangers' requests open no cycle and touch no identity: a scanner's lookups are nobody's outcome.
        if (op.clientKind === 'unrecognised') {
          op.cycleId = null;
          op.identityId = null;
          continue;
        }
        const step = segment(seg, op, { gapMs });
        seg = step.state;
        const { close, open, join } = step.decision;
        if (close) closeCurrent(op.time);
        if (open) current = openCycle(op, open === 'probe');
        if (join && current && seg.running) {
          current.endedAt = seg.running.lastTime;
          dirty.set(current.id, current);
          op.cycleId = current.id;
        } else {
          op.cycleId = null;
        }
        op.identityId = resolveIdentity(op);
      }
    },
    afterInsert(ops) {
      for (const op of ops) {
        if (op.clientKind === 'unrecognised') continue;
        const identity = op.identityId === null ? null : identityEntry(op.identityId);
        const c = op.cycleId === null ? undefined : dirty.get(op.cycleId);
        if (c) addToCycle(c, op, identity);
        if (identity) {
          Object.assign(identity, applyOutcome(identity, op));
          applyMemberships(op, identity);
        }
      }
      persist();
    },
    onRollback() {
      needsLoad = true;
      try {
        load();
        needsLoad = false;
      } catch {
        // the batch's own error is what the recorder needs to see; the next batch reloads
      }
    },
    closeStale(now = clock()) {
      if (needsLoad) {
        load();
        needsLoad = false;
      }
      const step = closeIfSilent(seg, now, { gapMs });
      seg = step.state;
      if (!step.close || !current) return false;
      closeCurrent(now);
      try {
        sqlite.transaction(persist)();
      } catch (err) {
        // Nothing was written: take the state back from the database (the cycle is still running there).
        needsLoad = true;
        throw err;
      }
      return true;
    },
    runningCycleId: () => current?.id ?? null,
  };
}

function fromRow(r: Record<string, unknown>): CycleRollup {
  const json = <T>(v: unknown, fallback: T): T => {
    try {
      return JSON.parse(String(v)) as T;
    } catch {
      return fallback;
    }
  };
  return {
    id: r.id as number,
    startedAt: r.started_at as number,
    endedAt: r.ended_at as number,
    state: r.state as CycleRollup['state'],
    kind: r.kind as CycleKind,
    probeOperationId: r.probe_operation_id as number | null,
    probeStatus: r.probe_status as number | null,
    probeOutcome: r.probe_outcome as string | null,
    probeErrorCode: r.probe_error_code as string | null,
    total: r.total as number,
    successes: r.successes as number,
    failures: r.failures as number,
    warnings: r.warnings as number,
    deletes: r.deletes as number,
    throttled: r.throttled as number,
    usersTouched: r.users_touched as number,
    groupsTouched: r.groups_touched as number,
    membersTouched: r.members_touched as number,
    provisioningOps: r.provisioning_ops as number,
    lookups: r.lookups as number,
    knownIdentities: r.known_identities as number,
    countsByOperation: json(r.counts_by_operation, {}),
    countsByErrorCode: json(r.counts_by_error_code, {}),
    histogram: parseHistogram(String(r.latency_histogram)),
    latencySumMs: r.latency_sum_ms as number,
    latencyMaxMs: r.latency_max_ms as number,
    expectedObjects: r.expected_objects as number | null,
    processedObjects: r.processed_objects as number,
    closedAt: r.closed_at as number | null,
  };
}
