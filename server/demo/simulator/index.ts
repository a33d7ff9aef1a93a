import type { OperationKind } from '../../scim/types.js';
import {
  createPacer,
  createSender,
  defaultSleep,
  type RunState,
  runCycles,
  type SimulatorRun,
} from './cycle-run.js';
import {
  type ChangeCounts,
  createDirectory,
  type Directory,
  disableUsers,
  enableUsers,
} from './directory.js';
import { createScimClient } from './http.js';
import { createRandom } from './random.js';
import type { Dialect } from './requests.js';

export type { Dialect } from './requests.js';

export interface SimulatorOptions {
  /** base URL of the SCIM API (the app, or scimtap's proxy listener in front of it) */
  target: string;
  token: string;
  users?: number;
  groups?: number;
  membersPerGroup?: number;
  /** number of cycles to run; 0 runs until stop() */
  cycles?: number;
  /** time between cycle starts (a longer cycle is followed by the next one at once) */
  intervalMs?: number;
  /** requests per second, evenly spaced; 0 sends as fast as the target answers */
  rate?: number;
  seed?: number;
  dialect?: Dialect;
  /** requests in flight at once (each worker handles whole objects). At 1 the log order is deterministic. */
  concurrency?: number;
  /** member ids per group PATCH */
  membersPerPatch?: number;
  /** multiplies the incremental cycles' source changes */
  churn?: number;
  /** stop after this many requests (benchmarks) */
  maxRequests?: number;
  /** end the run when the first cycle's probe fails (wrong URL or token) instead of carrying on like Entra */
  stopOnFirstProbeFailure?: boolean;
  requestTimeoutMs?: number;
  /** accept any TLS certificate from the target */
  tlsInsecure?: boolean;
  domain?: string;
  clock?: () => number;
  /** resolves after `ms`, or early when `signal` aborts */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  onOperation?(entry: SimulatorLogEntry): void;
  /** awaited at each cycle's start (before its probe: a scripted story may change faults or the directory) and end */
  onCycle?(info: CycleInfo): void | Promise<void>;
}

/** One request as the simulator saw it: what scimtap should record for it. */
export interface SimulatorLogEntry {
  cycle: number;
  kind: OperationKind;
  status: 'success' | 'failure';
  /** userName for users, displayName for groups, null for the probe */
  identity: string | null;
  httpStatus: number | null;
  method: string;
  /** path and query relative to the target's base URL */
  path: string;
  /** target id of the object, when known after this request */
  targetId: string | null;
  /** network problem or the SCIM error detail */
  error: string | null;
}

export interface CycleInfo {
  cycle: number;
  phase: 'start' | 'end';
  kind: 'initial' | 'incremental';
  startedAt: number;
  /** source changes made for this cycle (incremental cycles) */
  changes: ChangeCounts | null;
  /** pending users and groups this cycle set out to process */
  objects: number;
  requests: number;
  failures: number;
  /** why the cycle ended early, on phase 'end' */
  aborted: 'probeFailed' | 'stopped' | 'maxRequests' | null;
  /** the probe's answer, on phase 'end' */
  probe: { httpStatus: number | null; error: string | null } | null;
}

export interface KindCounts {
  success: number;
  failure: number;
}

export interface SimulatorSummary {
  cycles: number;
  requests: number;
  failures: number;
  byKind: Partial<Record<OperationKind, KindCounts>>;
  /** HTTP status (or 'none' when no answer) → count */
  byHttpStatus: Record<string, number>;
  durationMs: number;
  /** objects still out of sync at the end: Entra's escrow */
  pending: { users: number; groups: number };
  directory: { users: number; groups: number };
  stoppedReason: 'completed' | 'stopped' | 'probeFailed' | 'maxRequests';
  /** the failing probe when stoppedReason is probeFailed */
  probeFailure: { httpStatus: number | null; error: string | null } | null;
}

export interface SimulatorProgress {
  cycle: number;
  kind: 'initial' | 'incremental' | null;
  objectsDone: number;
  objectsTotal: number;
  requests: number;
  failures: number;
  /** ms until the next cycle starts, while waiting between cycles */
  waitingMs: number | null;
}

export interface Simulator {
  run(): Promise<SimulatorSummary>;
  /** finishes the request in flight, then run() resolves */
  stop(): void;
  progress(): SimulatorProgress;
  /** Source-side changes for scripted stories; they take effect at the next cycle's planning. */
  disableUsers(count: number): number[];
  enableUsers(serials: readonly number[]): number;
  /** userNames in the source directory, in creation order */
  userNames(): string[];
}

export function createSimulator(options: SimulatorOptions): Simulator {
  const {
    target,
    token,
    users = 200,
    groups = 20,
    membersPerGroup = 10,
    cycles = 1,
    intervalMs = 40 * 60_000,
    rate = 25,
    seed = 1,
    dialect = '2017',
    concurrency = 1,
    membersPerPatch = 5,
    churn = 1,
    maxRequests = Number.POSITIVE_INFINITY,
    stopOnFirstProbeFailure = false,
    requestTimeoutMs = 60_000,
    tlsInsecure = false,
    domain,
    clock = Date.now,
    sleep = defaultSleep,
    onOperation,
    onCycle,
  } = options;

  const rand = createRandom(seed);
  const dir: Directory = createDirectory(rand, { users, groups, membersPerGroup, domain });
  const client = createScimClient({
    target,
    token,
    timeoutMs: requestTimeoutMs,
    maxSockets: concurrency,
    tlsInsecure,
  });
  const abort = new AbortController();
  const state: RunState = {
    stopped: false,
    cycle: 0,
    cycleKind: null,
    objectsDone: 0,
    objectsTotal: 0,
    waitUntil: null,
    requests: 0,
    failures: 0,
    cycleRequests: 0,
    cycleFailures: 0,
    byKind: {},
    byHttpStatus: {},
  };
  const halted = () => state.stopped || state.requests >= maxRequests;
  const pace = createPacer({ rate, clock, sleep, signal: abort.signal });
  const send = createSender({ client, pace, state, halted, onOperation });
  const sim: SimulatorRun = {
    state,
    dir,
    rand,
    churn,
    clock,
    onCycle,
    halted,
    concurrency,
    send,
    exportContext: { send, dir, dialect, membersPerPatch },
  };

  return {
    run: () =>
      runCycles(sim, { cycles, intervalMs, stopOnFirstProbeFailure, sleep, signal: abort.signal, client }),
    stop() {
      state.stopped = true;
      abort.abort();
    },
    progress: () => ({
      cycle: state.cycle,
      kind: state.cycleKind,
      objectsDone: state.objectsDone,
      objectsTotal: state.objectsTotal,
      requests: state.requests,
      failures: state.failures,
      waitingMs: state.waitUntil === null ? null : Math.max(0, state.waitUntil - clock()),
    }),
    disableUsers: (count) => disableUsers(dir, rand, count),
    enableUsers: (serials) => enableUsers(dir, serials),
    userNames: () => [...dir.users.values()].flatMap((u) => (u.desired ? [u.desired.userName] : [])),
  };
}

/** Where the run stands: what progress() reports, and the counts the summary and each cycle's info carry. */
