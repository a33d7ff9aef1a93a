import type { RulesConfig } from '../config.js';
import { isAuthFailure, isClientSide, isNonCompliantFilterAnswer, isUnavailable } from '../cycles/failing.js';
import type { ClientKind, OperationKind, OperationStatus } from '../scim/types.js';
import type { RecorderStats } from '../store/recorder.js';
import { foldCycle, IdentitySet, push } from './cycle-fold.js';
import { createCycleWindow } from './cycle-window.js';
import type {
  DetectionInput,
  FilterAnswer,
  LatencySample,
  OperationSample,
  OutcomeSample,
  Streak,
  StreamStats,
  UnrecognisedClients,
} from './types.js';

/** The fields of a stored operation detection reads (a StoredOperation fits). */
export interface ObservedOperation {
  id: number;
  time: number;
  durationMs: number;
  cycleId: number | null;
  identityId: number | null;
  httpMethod: string;
  path: string;
  query: string;
  httpStatus: number | null;
  operation: OperationKind | string;
  status: OperationStatus | string;
  identityType: string | null;
  identity: string | null;
  targetId: string | null;
  errorCode: string | null;
  reason: string | null;
  tokenFingerprint: string | null;
  /** absent: the provisioning client's */
  clientKind?: ClientKind | string;
  clientIp?: string | null;
}

export interface EscrowBase {
  failures: number;
  failuresBase: number;
  /** end of the last healthy cycle the base counts from; null when unknown */
  since: number | null;
}

export interface Tracker {
  /** feed committed operations, in id order, with the cycle ids the cycles stage gave them */
  observe(op: ObservedOperation): void;
  /**
   * The rules' input at `now`, less the stuck identities (the identity rollups hold those): cost bounded by the
   * windows, never by history.
   */
  snapshot(now: number, recorder: RecorderStats): Omit<DetectionInput, 'stuck'>;
  /** failures before the first observed operation (restored from the database at start) */
  setEscrowBase(base: EscrowBase): void;
  /** the newest completed healthy cycle, to persist where escrow counting restarts */
  lastHealthyCycle(now: number): { lastOperationId: number; endedAt: number } | null;
}

export interface TrackerOptions {
  rules: RulesConfig;
  cycleIntervalMs: number;
  /** recent cycles kept in memory; older ones fold into the escrow count */
  maxCycles?: number;
  /** unrecognised requests remembered at most (a scanner's flood costs no more than this) */
  maxUnrecognised?: number;
}

const SAMPLES = 5;
const QUERY_CHARS = 300;
const REASON_CHARS = 500;

export { isAuthFailure, isNonCompliantFilterAnswer, isUnavailable };

export function toSample(
  op: Pick<
    ObservedOperation,
    | 'id'
    | 'time'
    | 'httpMethod'
    | 'path'
    | 'query'
    | 'httpStatus'
    | 'errorCode'
    | 'reason'
    | 'identity'
    | 'targetId'
  >,
): OperationSample {
  return {
    id: op.id,
    time: op.time,
    httpMethod: op.httpMethod,
    path: op.path,
    query: op.query.length > QUERY_CHARS ? `${op.query.slice(0, QUERY_CHARS)}…` : op.query,
    httpStatus: op.httpStatus,
    errorCode: op.errorCode,
    reason: op.reason && op.reason.length > REASON_CHARS ? `${op.reason.slice(0, REASON_CHARS)}…` : op.reason,
    identity: op.identity ?? op.targetId,
  };
}

/** Key of the user or group an operation is about: the cycles stage's identity id, else type + name or target id. */
export function identityKey(op: ObservedOperation): string | null {
  if (op.identityId !== null && op.identityId !== undefined) return `id:${op.identityId}`;
  const type = op.identityType ?? 'Other';
  if (op.identity) return `${type}:${op.identity}`;
  if (op.targetId) return `${type}:#${op.targetId}`;
  return null;
}

class StreakAcc {
  consecutive = 0;
  firstSeen: number | null = null;
  lastSeen: number | null = null;
  samples: OperationSample[] = [];
  identities = new IdentitySet();
  errorCodes = new Set<string>();
  fingerprints = new Set<string>();

  hit(op: ObservedOperation, key: string | null): void {
    this.consecutive++;
    this.firstSeen ??= op.time;
    this.lastSeen = op.time;
    push(this.samples, toSample(op), SAMPLES);
    this.identities.add(key, op);
    if (op.errorCode) this.errorCodes.add(op.errorCode);
    else if (op.httpStatus !== null) this.errorCodes.add(String(op.httpStatus));
    if (op.tokenFingerprint && this.fingerprints.size < 10) this.fingerprints.add(op.tokenFingerprint);
  }

  view(): Streak {
    return {
      consecutive: this.consecutive,
      firstSeen: this.firstSeen,
      lastSeen: this.lastSeen,
      samples: [...this.samples],
      identities: [...this.identities.shown],
      identityCount: this.identities.size,
      errorCodes: [...this.errorCodes],
    };
  }
}

/**
 * Detection's incremental state (ARCHITECTURE §6): each committed operation updates the windows that belong to no
 * cycle (auth, availability, latency, filter answers) and the samples of its cycle, in O(1), so evaluating the
 * rules costs the size of the windows, not of the history. Cycles are the cycles stage's (an operation it put in
 * no cycle is in none here); failing streaks are the identity rollups', read from the store by the engine.
 * No I/O: the alerts engine feeds it from an ingest stage and restores it by replaying recent operations.
 */
export function createTracker({
  rules,
  cycleIntervalMs,
  maxCycles = 16,
  maxUnrecognised = 5_000,
}: TrackerOptions): Tracker {
  const strangers = createStrangerWindow(maxUnrecognised, rules.unrecognisedClientsWindowMinutes * 60_000);
  const streams = createStreams(rules);
  const cycles = createCycleWindow(maxCycles, rules.cycleGapMinutes * 60_000);

  function observe(op: ObservedOperation): void {
    // Not Entra's job: counted apart, and never a credentials failure, a cycle or a failing user.
    if (op.clientKind === 'unrecognised') {
      strangers.add(op);
      return;
    }
    const key = identityKey(op);
    const sample = toSample(op);
    // Entra gave up, or scimtap turned away a client over its share: neither says anything about the app. In its
    // cycle (its last operation, as the stored cycle's end), in no count and no window.
    if (isClientSide(op)) {
      const cycle = cycles.cycleFor(op);
      if (cycle) foldCycle(cycle, op, { key, sample, authFailed: false, nonCompliant: false });
      return;
    }
    const authFailed = isAuthFailure(op);
    const nonCompliant = streams.observe(op, key, sample, authFailed);
    const cycle = cycles.cycleFor(op);
    if (cycle) foldCycle(cycle, op, { key, sample, authFailed, nonCompliant });
  }

  return {
    observe,
    snapshot(now, recorder) {
      return {
        cycleIntervalMs,
        stream: streams.view(),
        cycles: cycles.rollups(now),
        sinceHealthy: cycles.sinceHealthy(now),
        recorder: { ...recorder },
        unrecognised: strangers.view(now),
      };
    },
    setEscrowBase: cycles.setEscrowBase,
    lastHealthyCycle: cycles.lastHealthyCycle,
  };
}

/**
 * The windows that belong to no cycle: the credentials and availability streaks, the last outcomes, latencies and
 * filter answers, and the last probe.
 */
function createStreams(rules: RulesConfig) {
  let auth = new StreakAcc();
  let lastGoodTokenFingerprint: string | null = null;
  let unavailable = new StreakAcc();
  const outcomes: OutcomeSample[] = [];
  const latencies: LatencySample[] = [];
  const filterAnswers: FilterAnswer[] = [];
  let lastProbe: (OperationSample & { failed: boolean }) | null = null;

  return {
    /** returns whether `op` is a non-compliant answer to a filter query (its cycle counts those too) */
    observe(
      op: ObservedOperation,
      key: string | null,
      sample: OperationSample,
      authFailed: boolean,
    ): boolean {
      const down = isUnavailable(op);
      if (authFailed) auth.hit(op, key);
      else if (!down) {
        if (auth.consecutive > 0) auth = new StreakAcc();
        if (op.tokenFingerprint) lastGoodTokenFingerprint = op.tokenFingerprint;
      }
      if (down) unavailable.hit(op, key);
      else if (unavailable.consecutive > 0) unavailable = new StreakAcc();
      push(
        outcomes,
        { id: op.id, time: op.time, unavailable: down, sample: down ? sample : null },
        rules.upstreamWindow,
      );
      const slow = op.durationMs > rules.slowUpstreamMs;
      push(
        latencies,
        { id: op.id, time: op.time, durationMs: op.durationMs, sample: slow ? sample : null },
        rules.slowUpstreamWindow,
      );
      const isFilterQuery = op.operation === 'lookup' || op.operation === 'testConnection';
      const nonCompliant = isFilterQuery && !authFailed && !down && isNonCompliantFilterAnswer(op);
      if (isFilterQuery && (nonCompliant || op.status !== 'failure')) {
        push(filterAnswers, { nonCompliant, sample }, rules.scimComplianceWindow);
      }
      if (op.operation === 'testConnection') lastProbe = { ...sample, failed: op.status === 'failure' };
      return nonCompliant;
    },
    view(): StreamStats {
      return {
        auth: {
          ...auth.view(),
          tokenFingerprints: [...auth.fingerprints],
          lastGoodTokenFingerprint,
        },
        unavailable: unavailable.view(),
        outcomes: [...outcomes],
        latencies: [...latencies],
        lastProbe: lastProbe ? { ...lastProbe } : null,
        filterAnswers: [...filterAnswers],
      };
    },
  };
}

/** Unrecognised requests by time, oldest first, so the window's counts follow the clock. */
function createStrangerWindow(max: number, windowMs: number) {
  const seen: { time: number; address: string; path: string }[] = [];
  const samples: OperationSample[] = [];
  return {
    add(op: ObservedOperation): void {
      push(seen, { time: op.time, address: op.clientIp ?? 'unknown', path: op.path }, max);
      push(samples, toSample(op), SAMPLES);
    },
    view(now: number): UnrecognisedClients {
      while (seen.length > 0 && seen[0].time < now - windowMs) seen.shift();
      const top = (key: 'address' | 'path') => {
        const counts = new Map<string, number>();
        for (const s of seen) counts.set(s[key], (counts.get(s[key]) ?? 0) + 1);
        return [...counts]
          .map(([value, count]) => ({ value, count }))
          .sort((a, b) => b.count - a.count || a.value.localeCompare(b.value))
          .slice(0, 10);
      };
      return {
        count: seen.length,
        firstSeen: seen[0]?.time ?? null,
        lastSeen: seen.at(-1)?.time ?? null,
        addresses: top('address'),
        paths: top('path'),
        samples: samples.filter((s) => s.time >= now - windowMs),
      };
    },
  };
}
