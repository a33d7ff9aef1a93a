// How the simulator runs: pacing, sending, counting and the cycles themselves (createSimulator in index.ts wires
// them).
import type { OperationKind } from '../../scim/types.js';
import { type Directory, defaultChurn, groupPending, mutate, userPending } from './directory.js';
import {
  type Call,
  type ExportContext,
  errorDetail,
  exportGroup,
  exportUser,
  isOk,
  lookupOk,
} from './export.js';
import type { HttpResult, ScimClient } from './http.js';
import type {
  CycleInfo,
  KindCounts,
  SimulatorLogEntry,
  SimulatorOptions,
  SimulatorProgress,
  SimulatorSummary,
} from './index.js';
import type { Random } from './random.js';
import { listResources, userLookupPath } from './requests.js';

export const defaultSleep = (ms: number, signal: AbortSignal) =>
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

/** Waits for the next evenly spaced slot; bursts never make up for a slow answer. */
export function createPacer({
  rate,
  clock,
  sleep,
  signal,
}: {
  rate: number;
  clock: () => number;
  sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  signal: AbortSignal;
}): () => Promise<void> {
  const gapMs = rate > 0 ? 1000 / rate : 0;
  let nextSlot = 0;
  return async () => {
    if (gapMs === 0) return;
    const now = clock();
    const slot = Math.max(now, nextSlot);
    nextSlot = slot + gapMs;
    if (slot > now) await sleep(slot - now, signal);
  };
}

interface Counts {
  requests: number;
  failures: number;
  cycleRequests: number;
  cycleFailures: number;
  byKind: Partial<Record<OperationKind, KindCounts>>;
  /** HTTP status (or 'none' when no answer) → count */
  byHttpStatus: Record<string, number>;
}

/** Counts an answered request (the request itself was counted when sent). */
function count(counts: Counts, kind: OperationKind, result: HttpResult, ok: boolean): void {
  if (!ok) {
    counts.failures++;
    counts.cycleFailures++;
  }
  counts.byKind[kind] ??= { success: 0, failure: 0 };
  counts.byKind[kind][ok ? 'success' : 'failure']++;
  const statusKey = result.status === null ? 'none' : String(result.status);
  counts.byHttpStatus[statusKey] = (counts.byHttpStatus[statusKey] ?? 0) + 1;
}

function logEntry(
  cycle: number,
  { kind, identity, method, path, targetId = null }: Call,
  result: HttpResult,
  ok: boolean,
): SimulatorLogEntry {
  return {
    cycle,
    kind,
    status: ok ? 'success' : 'failure',
    identity,
    httpStatus: result.status,
    method,
    path,
    targetId: typeof targetId === 'string' ? targetId : ok && targetId ? targetId(result) : null,
    error: ok ? null : errorDetail(result),
  };
}

/** Entra's cycle starts with a filter query for a random GUID: 200 and an empty ListResponse expected. */
function probeCall(guid: string): Call {
  return {
    kind: 'testConnection',
    identity: null,
    method: 'GET',
    path: userLookupPath(guid),
    succeeded: (r) => lookupOk(r) && listResources(r.body)!.length === 0,
  };
}

/** Hands items to `concurrency` workers, each taking the next one when done, until all are done or halted. */
async function inWorkers<T>(
  items: T[],
  concurrency: number,
  halted: () => boolean,
  process: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length && !halted()) await process(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
}

/** Objects still out of sync: Entra's escrow. */
function pendingCounts(dir: Directory): SimulatorSummary['pending'] {
  let users = 0;
  let groups = 0;
  for (const user of dir.users.values()) if (userPending(user)) users++;
  for (const group of dir.groups.values()) if (groupPending(dir, group)) groups++;
  return { users, groups };
}

/** An Entra-like SCIM client: probe, lookups, creates, updates, disables, deletes and memberships, cycle after cycle. */

export interface RunState extends Counts {
  stopped: boolean;
  cycle: number;
  cycleKind: SimulatorProgress['kind'];
  objectsDone: number;
  objectsTotal: number;
  waitUntil: number | null;
}

type Send = ExportContext['send'];

/** What a cycle works with. */
export interface SimulatorRun {
  state: RunState;
  dir: Directory;
  rand: Random;
  churn: number;
  clock: () => number;
  onCycle: SimulatorOptions['onCycle'];
  /** stopped, or maxRequests reached */
  halted: () => boolean;
  concurrency: number;
  send: Send;
  exportContext: ExportContext;
}

/** Sends one request and logs it; null when the run was stopped before it could be sent. */
export function createSender({
  client,
  pace,
  state,
  halted,
  onOperation,
}: {
  client: ScimClient;
  pace: () => Promise<void>;
  state: RunState;
  halted: () => boolean;
  onOperation: SimulatorOptions['onOperation'];
}): Send {
  return async (call) => {
    if (halted()) return null;
    await pace();
    if (halted()) return null;
    state.requests++;
    state.cycleRequests++;
    const result = await client.request(call.method, call.path, call.body);
    const { succeeded = (r) => isOk(r.status) } = call;
    const ok = succeeded(result);
    count(state, call.kind, result, ok);
    onOperation?.(logEntry(state.cycle, call, result, ok));
    return { result, ok };
  };
}

/** Cycle after cycle, `intervalMs` apart from start to start, until done, stopped or out of requests. */
export async function runCycles(
  sim: SimulatorRun,
  o: Pick<Required<SimulatorOptions>, 'cycles' | 'intervalMs' | 'stopOnFirstProbeFailure' | 'sleep'> & {
    signal: AbortSignal;
    client: ScimClient;
  },
): Promise<SimulatorSummary> {
  const { state, clock, halted, dir } = sim;
  const started = clock();
  let stoppedReason: SimulatorSummary['stoppedReason'] = 'completed';
  let probeFailure: SimulatorSummary['probeFailure'] = null;
  try {
    while (!halted() && (o.cycles === 0 || state.cycle < o.cycles)) {
      const info = await runCycle(sim);
      if (info.aborted === 'probeFailed' && state.cycle === 1 && o.stopOnFirstProbeFailure) {
        stoppedReason = 'probeFailed';
        probeFailure = info.probe;
        break;
      }
      if (halted() || (o.cycles !== 0 && state.cycle >= o.cycles)) break;
      const wait = info.startedAt + o.intervalMs - clock();
      if (wait > 0) {
        state.waitUntil = clock() + wait;
        await o.sleep(wait, o.signal);
        state.waitUntil = null;
      }
    }
  } finally {
    o.client.close();
  }
  if (stoppedReason === 'completed' && halted()) stoppedReason = state.stopped ? 'stopped' : 'maxRequests';
  return {
    cycles: state.cycle,
    requests: state.requests,
    failures: state.failures,
    byKind: state.byKind,
    byHttpStatus: state.byHttpStatus,
    durationMs: clock() - started,
    pending: pendingCounts(dir),
    directory: { users: dir.users.size, groups: dir.groups.size },
    stoppedReason,
    probeFailure,
  };
}

async function runCycle(sim: SimulatorRun): Promise<CycleInfo> {
  const { state, dir, rand, clock, halted, exportContext } = sim;
  state.cycle++;
  state.cycleKind = state.cycle === 1 ? 'initial' : 'incremental';
  state.cycleRequests = 0;
  state.cycleFailures = 0;
  const startedAt = clock();
  const changes = state.cycle === 1 ? null : mutate(dir, rand, defaultChurn(dir, sim.churn));
  // Drawn before the story hook so that the probe value does not depend on what the hook does.
  const probeGuid = rand.guid();
  const base = { cycle: state.cycle, kind: state.cycleKind, startedAt, changes } as const;
  await sim.onCycle?.({
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
  state.objectsDone = 0;
  state.objectsTotal = userPlan.length + groupEstimate;

  const end = async (aborted: CycleInfo['aborted'], probe: CycleInfo['probe']) => {
    const info: CycleInfo = {
      ...base,
      phase: 'end',
      objects: state.objectsTotal,
      requests: state.cycleRequests,
      failures: state.cycleFailures,
      aborted,
      probe,
    };
    await sim.onCycle?.(info);
    return info;
  };
  const haltReason = (): 'stopped' | 'maxRequests' => (state.stopped ? 'stopped' : 'maxRequests');
  const runPhase = <T>(items: T[], process: (item: T) => Promise<void>) =>
    inWorkers(items, sim.concurrency, halted, async (item) => {
      await process(item);
      state.objectsDone++;
    });

  const probe = await sim.send(probeCall(probeGuid));
  if (!probe) return end(haltReason(), null);
  const probeInfo = { httpStatus: probe.result.status, error: errorDetail(probe.result) };
  // A failing probe is a quarantine exception for Entra: nothing else is sent this cycle.
  if (!probe.ok) return end('probeFailed', probeInfo);

  await runPhase(userPlan, (user) => exportUser(exportContext, user));
  if (halted()) return end(haltReason(), probeInfo);
  // Planned after the users: memberships of users created this cycle go out in the same cycle.
  const groupPlan = [...dir.groups.values()].filter((g) => groupPending(dir, g));
  state.objectsTotal = state.objectsDone + groupPlan.length;
  await runPhase(groupPlan, (group) => exportGroup(exportContext, group));
  return end(halted() ? haltReason() : null, probeInfo);
}
