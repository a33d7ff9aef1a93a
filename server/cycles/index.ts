import type { Config } from '../config.js';
import type { Db } from '../store/db.js';
import type { IngestStage } from '../store/ingest.js';
import { createRollupQueries, type RollupQueries } from '../store/queries/rollups.js';
import { createIdentityRollups } from './identities.js';
import {
  type CycleOperation,
  type CycleRollup,
  foldCycle,
  fromCycleRow,
  newCycleRollup,
  type StoredCycleOperation,
  toCycleRow,
} from './rollup.js';
import {
  type CycleKind,
  closeIfSilent,
  cycleKind,
  initialSegmentState,
  type SegmentState,
  segment,
} from './segment.js';

export type { CycleOperation, StoredCycleOperation } from './rollup.js';

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

/**
 * The store: a SQLite database, or (PostgreSQL's derivation, store/pg/derive/) synchronous queries over a
 * prefetched workspace, with `transaction` standing for SQLite's transaction around closeStale's writes.
 */
export type CycleStageOptions = {
  config: CycleConfig;
  clock?: () => number;
} & ({ db: Db } | { queries: RollupQueries; transaction(write: () => void): void });

/** What earlier, completed cycles say about the next one's kind and expected size. */
interface History {
  /** start of the last completed cycle that was not on demand */
  cadenceStart: number | null;
  seenScheduled: boolean;
  lastInitialProcessed: number | null;
}

/**
 * The cycles/identities ingest stage (ARCHITECTURE §5). beforeInsert segments and finds each operation's
 * identity; afterInsert folds it into the cycle rollup (rollup.ts) and the identity's (identity.ts). Every step
 * costs the same whatever the history: indexed lookups by key, the running cycle in memory, one UPDATE per
 * touched row per batch.
 */
export function createCycleStage(options: CycleStageOptions): CycleStage {
  const { config, clock = Date.now } = options;
  const gapMs = config.rules.cycleGapMinutes * 60_000;
  const intervalMs = config.cycleIntervalMin * 60_000;
  const q = 'db' in options ? createRollupQueries(options.db) : options.queries;
  const transaction =
    'db' in options ? (write: () => void) => options.db.$client.transaction(write)() : options.transaction;
  const identities = createIdentityRollups(q);

  let seg: SegmentState = initialSegmentState;
  let current: CycleRollup | null = null;
  let history: History = { cadenceStart: null, seenScheduled: false, lastInitialProcessed: null };
  /** set when a reload after a rollback failed too (the disk is failing): reload before the next batch */
  let needsLoad = false;
  /** cycles touched by the batch in progress (the running one and any it closed) */
  const dirty = new Map<number, CycleRollup>();

  function load(): void {
    dirty.clear();
    identities.clear();
    current = loadRunningCycle(q);
    seg = segmentStateOf(current);
    history = loadHistory(q);
  }

  /** Settle kinds in id order (a cycle's kind depends on the completed ones before it) and write. */
  function persist(): void {
    const list = [...dirty.values()].sort((a, b) => a.id - b.id);
    for (const c of list) {
      settleKind(c, history, intervalMs, config.expectedObjects);
      q.updateCycle(toCycleRow(c));
      if (c.state === 'completed') learnFromCompleted(history, c);
    }
    dirty.clear();
    identities.persist();
  }

  function closeCurrent(at: number): void {
    if (!current) return;
    current.state = 'completed';
    current.closedAt = at;
    dirty.set(current.id, current);
    current = null;
  }

  function reloadIfNeeded(): void {
    if (!needsLoad) return;
    load();
    needsLoad = false;
  }

  load();

  return {
    beforeInsert(ops) {
      reloadIfNeeded();
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
        if (open) current = openCycle(q, op, open === 'probe', identities.count());
        if (join && current && seg.running) {
          current.endedAt = seg.running.lastTime;
          dirty.set(current.id, current);
          op.cycleId = current.id;
        } else {
          op.cycleId = null;
        }
        op.identityId = identities.resolve(op);
      }
    },
    afterInsert(ops) {
      for (const op of ops) {
        if (op.clientKind === 'unrecognised') continue;
        const identity = op.identityId === null ? null : identities.entry(op.identityId);
        const c = op.cycleId === null ? undefined : dirty.get(op.cycleId);
        // Counted once per cycle among the users or groups touched: before its fold moves lastCycleId here.
        if (c) foldCycle(c, op, identity && identity.lastCycleId !== c.id ? identity : null);
        if (identity) identities.fold(op, identity);
      }
      persist();
    },
    onRollback() {
      needsLoad = true;
      try {
        reloadIfNeeded();
      } catch {
        // the batch's own error is what the recorder needs to see; the next batch reloads
      }
    },
    closeStale(now = clock()) {
      reloadIfNeeded();
      const step = closeIfSilent(seg, now, { gapMs });
      seg = step.state;
      if (!step.close || !current) return false;
      closeCurrent(now);
      try {
        transaction(persist);
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

/**
 * The running cycle as the database has it. Only one cycle runs at a time; older ones left running (a crash between
 * writes) are closed as they were.
 */
function loadRunningCycle(q: RollupQueries): CycleRollup | null {
  const running = q.runningCycles().map(fromCycleRow);
  for (const stale of running.slice(0, -1)) {
    stale.state = 'completed';
    stale.closedAt = stale.endedAt;
    q.updateCycle(toCycleRow(stale));
  }
  return running.at(-1) ?? null;
}

/** Segmentation resumes from the running cycle, if any. */
function segmentStateOf(current: CycleRollup | null): SegmentState {
  return current
    ? {
        running: {
          startedAt: current.startedAt,
          lastTime: current.endedAt,
          probe: current.probeOutcome !== null,
          provisioning: current.provisioningOps > 0,
        },
      }
    : initialSegmentState;
}

function loadHistory(q: RollupQueries): History {
  return {
    cadenceStart: q.lastCadenceStart(),
    seenScheduled: q.seenScheduled(),
    lastInitialProcessed: q.lastInitialProcessed(),
  };
}

/** Insert the cycle `op` opens; `known` is the identities known before it, for telling an initial cycle. */
function openCycle(q: RollupQueries, op: CycleOperation, byProbe: boolean, known: number): CycleRollup {
  const kind: CycleKind = byProbe ? 'testConnection' : 'incremental';
  const id = q.insertCycle({
    startedAt: op.time,
    kind,
    probeStatus: byProbe ? op.httpStatus : null,
    probeOutcome: byProbe ? op.status : null,
    probeErrorCode: byProbe ? op.errorCode : null,
    knownIdentities: known,
  });
  return newCycleRollup(id, op, byProbe, known);
}

/** A cycle's kind and expected size, from what it did so far and the completed cycles before it. */
function settleKind(
  c: CycleRollup,
  history: History,
  intervalMs: number,
  expectedObjects: CycleConfig['expectedObjects'],
): void {
  c.processedObjects = c.usersTouched + c.groupsTouched;
  c.kind = cycleKind({
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
  c.expectedObjects = c.kind === 'initial' ? (expectedObjects ?? history.lastInitialProcessed ?? null) : null;
}

/** What a completed cycle tells the next ones' kinds. */
function learnFromCompleted(history: History, c: CycleRollup): void {
  if (c.kind !== 'onDemand') history.cadenceStart = c.startedAt;
  if (c.kind === 'initial' || c.kind === 'incremental') history.seenScheduled = true;
  if (c.kind === 'initial') history.lastInitialProcessed = c.processedObjects;
}
