import type { OperationKind, ResourceType } from '../scim/types.js';
import type { CycleKind } from '../store/schema/cycles.js';

export { type CycleKind, cycleKinds } from '../store/schema/cycles.js';

// Cycle segmentation (ARCHITECTURE §5) as a pure state machine driven by operation time, never the wall clock.
//
//   state       operation                          → decision
//   ─────────   ─────────────────────────────────    ───────────────────────────────────────────────
//   none        testConnection probe                open a cycle (probe-only until traffic follows)
//   none        provisioning traffic                open a cycle (traffic resumed after a silence)
//   none        other (schema discovery, ...)       no cycle
//   running     any, after a silence ≥ gap          close it, then as from `none`
//   running     testConnection probe                close it, open a new cycle at the probe
//   running     anything else                       join it
//   running     timer: now − last op ≥ gap          close it (closeIfSilent)
//
// A cycle that stays probe-only is a Test Connection event; cycleKind() names it from its rollups.

export interface SegmentOptions {
  /** rules.cycleGapMinutes in ms: a silence at least this long closes a cycle */
  gapMs: number;
}

/** The part of an operation segmentation looks at. */
export interface SegmentInput {
  time: number;
  operation: OperationKind;
  resourceType: ResourceType;
}

export interface RunningCycle {
  startedAt: number;
  /** time of the last operation that joined it (its endedAt) */
  lastTime: number;
  /** opened by a testConnection probe */
  probe: boolean;
  /** provisioning traffic (not just the probe and discovery) has joined it */
  provisioning: boolean;
}

export interface SegmentState {
  running: RunningCycle | null;
}

export interface SegmentDecision {
  /** the running cycle ends before this operation, and why */
  close: 'silence' | 'probe' | null;
  /** this operation opens a new cycle, and why */
  open: 'probe' | 'traffic' | null;
  /** the operation belongs to the (possibly just opened) running cycle; false: it belongs to no cycle */
  join: boolean;
}

export const initialSegmentState: SegmentState = { running: null };

/** Traffic that makes a cycle: anything on users, groups or bulk except the GUID probe. */
export function isProvisioning(op: Pick<SegmentInput, 'operation' | 'resourceType'>): boolean {
  if (op.operation === 'testConnection' || op.operation === 'schemaDiscovery') return false;
  return op.resourceType === 'User' || op.resourceType === 'Group' || op.resourceType === 'Bulk';
}

/**
 * Silence since the running cycle's last operation. Slow requests are recorded when they finish, so an
 * operation may start a little before ones already seen: a small step back counts as no silence at all.
 */
function silenceBefore(running: RunningCycle, time: number): number {
  return Math.max(0, time - running.lastTime);
}

/**
 * Where the cycle's clock goes after an operation. A step back of less than the gap is a slow request
 * (keep the latest time); a bigger one is the clock jumping back, and the new timeline is adopted so that
 * silences are measured on it from now on.
 */
function advance(lastTime: number, time: number, gapMs: number): number {
  if (time >= lastTime) return time;
  return lastTime - time < gapMs ? lastTime : time;
}

export function segment(
  state: SegmentState,
  op: SegmentInput,
  { gapMs }: SegmentOptions,
): { state: SegmentState; decision: SegmentDecision } {
  let running = state.running;
  let close: SegmentDecision['close'] = null;
  if (running && silenceBefore(running, op.time) >= gapMs) {
    close = 'silence';
    running = null;
  }

  if (op.operation === 'testConnection') {
    if (running) close = 'probe';
    return {
      state: { running: { startedAt: op.time, lastTime: op.time, probe: true, provisioning: false } },
      decision: { close, open: 'probe', join: true },
    };
  }

  const provisioning = isProvisioning(op);
  if (running) {
    return {
      state: {
        running: {
          ...running,
          lastTime: advance(running.lastTime, op.time, gapMs),
          provisioning: running.provisioning || provisioning,
        },
      },
      decision: { close, open: null, join: true },
    };
  }
  if (provisioning) {
    return {
      state: { running: { startedAt: op.time, lastTime: op.time, probe: false, provisioning: true } },
      decision: { close, open: 'traffic', join: true },
    };
  }
  return { state: { running: null }, decision: { close, open: null, join: false } };
}

/**
 * The timer's transition: close the running cycle once `now` is a full gap past its last operation.
 * If `now` is far behind the cycle's clock, the wall clock jumped back: measure the silence from `now` on.
 */
export function closeIfSilent(
  state: SegmentState,
  now: number,
  { gapMs }: SegmentOptions,
): { state: SegmentState; close: boolean } {
  const running = state.running;
  if (!running) return { state, close: false };
  if (now - running.lastTime >= gapMs) return { state: { running: null }, close: true };
  if (running.lastTime - now >= gapMs)
    return { state: { running: { ...running, lastTime: now } }, close: false };
  return { state, close: false };
}

/** What is known about a cycle when naming its kind. */
export interface KindFacts {
  /** opened by a testConnection probe */
  probe: boolean;
  /** provisioning operations in it (not the probe, not discovery) */
  provisioningOps: number;
  /** distinct users and groups it touched */
  objects: number;
  /** lookup operations in it */
  lookups: number;
  /** identities known when it opened */
  knownIdentities: number;
  /** no initial or incremental cycle came before it */
  firstSeen: boolean;
  /** start of the last cycle before it that was not an on-demand run (Entra's cadence); null if none */
  previousStart: number | null;
  startedAt: number;
  /** config.cycleIntervalMin in ms */
  intervalMs: number;
}

/** A cycle starting this far into the interval after the previous one is taken to be on Entra's schedule. */
export const onScheduleShare = 0.75;

/**
 * Name a cycle. A probe with one object (or none) after it looks the same whether Entra's scheduler or an
 * admin sent it, so timing decides: on Entra's cadence it is an incremental cycle (a quiet tenant's cycles are
 * a bare probe), off it an on-demand run or a Test Connection.
 */
export function cycleKind(f: KindFacts): CycleKind {
  const onSchedule =
    f.previousStart !== null && f.startedAt - f.previousStart >= onScheduleShare * f.intervalMs;
  if (f.probe && f.provisioningOps === 0) return onSchedule ? 'incremental' : 'testConnection';
  if (f.probe && f.objects <= 1 && !onSchedule) return 'onDemand';
  if (f.firstSeen) return 'initial';
  if (f.knownIdentities > 0 && f.lookups > f.knownIdentities / 2) return 'initial';
  return 'incremental';
}
