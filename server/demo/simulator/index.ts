import type { OperationKind } from '../../scim/types.js';
import {
  type ChangeCounts,
  createDirectory,
  type Directory,
  defaultChurn,
  disableUsers,
  enableUsers,
  groupPending,
  mutate,
  userPending,
} from './directory.js';
import {
  type Call,
  type ExportContext,
  errorDetail,
  exportGroup,
  exportUser,
  isOk,
  lookupOk,
} from './export.js';
import { createScimClient, type HttpResult } from './http.js';
import { createRandom } from './random.js';
import { type Dialect, listResources, userLookupPath } from './requests.js';

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

const defaultSleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

/** An Entra-like SCIM client: probe, lookups, creates, updates, disables, deletes and memberships, cycle after cycle. */
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
  const gapMs = rate > 0 ? 1000 / rate : 0;
  const abort = new AbortController();

  let stopped = false;
  let nextSlot = 0;
  let cycle = 0;
  let cycleKind: SimulatorProgress['kind'] = null;
  let objectsDone = 0;
  let objectsTotal = 0;
  let waitUntil: number | null = null;
  let requests = 0;
  let failures = 0;
  let cycleRequests = 0;
  let cycleFailures = 0;
  const byKind: Partial<Record<OperationKind, KindCounts>> = {};
  const byHttpStatus: Record<string, number> = {};

  const halted = () => stopped || requests >= maxRequests;

  /** Waits for the next evenly spaced slot; bursts never make up for a slow answer. */
  async function pace(): Promise<void> {
    if (gapMs === 0) return;
    const now = clock();
    const slot = Math.max(now, nextSlot);
    nextSlot = slot + gapMs;
    if (slot > now) await sleep(slot - now, abort.signal);
  }

  /** Sends one request and logs it; null when the run was stopped before it could be sent. */
  async function send({
    kind,
    identity,
    method,
    path,
    body,
    succeeded = (r) => isOk(r.status),
    targetId = null,
  }: Call): Promise<{ result: HttpResult; ok: boolean } | null> {
    if (halted()) return null;
    await pace();
    if (halted()) return null;
    requests++;
    cycleRequests++;
    const result = await client.request(method, path, body);
    const ok = succeeded(result);
    if (!ok) {
      failures++;
      cycleFailures++;
    }
    byKind[kind] ??= { success: 0, failure: 0 };
    const counts = byKind[kind];
    counts[ok ? 'success' : 'failure']++;
    const statusKey = result.status === null ? 'none' : String(result.status);
    byHttpStatus[statusKey] = (byHttpStatus[statusKey] ?? 0) + 1;
    onOperation?.({
      cycle,
      kind,
      status: ok ? 'success' : 'failure',
      identity,
      httpStatus: result.status,
      method,
      path,
      targetId: typeof targetId === 'string' ? targetId : ok && targetId ? targetId(result) : null,
      error: ok ? null : errorDetail(result),
    });
    return { result, ok };
  }

  const exportContext: ExportContext = { send, dir, dialect, membersPerPatch };

  async function runPhase<T>(items: T[], process: (item: T) => Promise<void>): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < items.length && !halted()) {
        await process(items[next++]!);
        objectsDone++;
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
  }

  async function runCycle(): Promise<CycleInfo> {
    cycle++;
    cycleKind = cycle === 1 ? 'initial' : 'incremental';
    cycleRequests = 0;
    cycleFailures = 0;
    const startedAt = clock();
    const changes = cycle === 1 ? null : mutate(dir, rand, defaultChurn(dir, churn));
    // Drawn before the story hook so that the probe value does not depend on what the hook does.
    const probeGuid = rand.guid();
    const base = { cycle, kind: cycleKind, startedAt, changes } as const;
    await onCycle?.({
      ...base,
      phase: 'start',
      objects: 0,
      requests: 0,
      failures: 0,
      aborted: null,
      probe: null,
    });

    const userPlan = [...dir.users.values()].filter(userPending);
    let groupEstimate = 0;
    for (const group of dir.groups.values()) if (groupPending(dir, group)) groupEstimate++;
    objectsDone = 0;
    objectsTotal = userPlan.length + groupEstimate;

    const end = async (aborted: CycleInfo['aborted'], probe: CycleInfo['probe']) => {
      const info: CycleInfo = {
        ...base,
        phase: 'end',
        objects: objectsTotal,
        requests: cycleRequests,
        failures: cycleFailures,
        aborted,
        probe,
      };
      await onCycle?.(info);
      return info;
    };
    const haltReason = (): 'stopped' | 'maxRequests' => (stopped ? 'stopped' : 'maxRequests');

    // Entra's cycle starts with a filter query for a random GUID: 200 and an empty ListResponse expected.
    const probe = await send({
      kind: 'testConnection',
      identity: null,
      method: 'GET',
      path: userLookupPath(probeGuid),
      succeeded: (r) => lookupOk(r) && listResources(r.body)!.length === 0,
    });
    if (!probe) return end(haltReason(), null);
    const probeInfo = { httpStatus: probe.result.status, error: errorDetail(probe.result) };
    // A failing probe is a quarantine exception for Entra: nothing else is sent this cycle.
    if (!probe.ok) return end('probeFailed', probeInfo);

    await runPhase(userPlan, (user) => exportUser(exportContext, user));
    if (halted()) return end(haltReason(), probeInfo);
    // Planned after the users: memberships of users created this cycle go out in the same cycle.
    const groupPlan = [...dir.groups.values()].filter((g) => groupPending(dir, g));
    objectsTotal = objectsDone + groupPlan.length;
    await runPhase(groupPlan, (group) => exportGroup(exportContext, group));
    return end(halted() ? haltReason() : null, probeInfo);
  }

  async function run(): Promise<SimulatorSummary> {
    const started = clock();
    let stoppedReason: SimulatorSummary['stoppedReason'] = 'completed';
    let probeFailure: SimulatorSummary['probeFailure'] = null;
    try {
      while (!halted() && (cycles === 0 || cycle < cycles)) {
        const info = await runCycle();
        if (info.aborted === 'probeFailed' && cycle === 1 && stopOnFirstProbeFailure) {
          stoppedReason = 'probeFailed';
          probeFailure = info.probe;
          break;
        }
        if (halted() || (cycles !== 0 && cycle >= cycles)) break;
        const wait = info.startedAt + intervalMs - clock();
        if (wait > 0) {
          waitUntil = clock() + wait;
          await sleep(wait, abort.signal);
          waitUntil = null;
        }
      }
    } finally {
      client.close();
    }
    if (stoppedReason === 'completed') {
      if (stopped) stoppedReason = 'stopped';
      else if (requests >= maxRequests) stoppedReason = 'maxRequests';
    }
    let pendingUsers = 0;
    let pendingGroups = 0;
    for (const user of dir.users.values()) if (userPending(user)) pendingUsers++;
    for (const group of dir.groups.values()) if (groupPending(dir, group)) pendingGroups++;
    return {
      cycles: cycle,
      requests,
      failures,
      byKind,
      byHttpStatus,
      durationMs: clock() - started,
      pending: { users: pendingUsers, groups: pendingGroups },
      directory: { users: dir.users.size, groups: dir.groups.size },
      stoppedReason,
      probeFailure,
    };
  }

  return {
    run,
    stop() {
      stopped = true;
      abort.abort();
    },
    progress: () => ({
      cycle,
      kind: cycleKind,
      objectsDone,
      objectsTotal,
      requests,
      failures,
      waitingMs: waitUntil === null ? null : Math.max(0, waitUntil - clock()),
    }),
    disableUsers: (count) => disableUsers(dir, rand, count),
    enableUsers: (serials) => enableUsers(dir, serials),
    userNames: () => [...dir.users.values()].flatMap((u) => (u.desired ? [u.desired.userName] : [])),
  };
}
