import type { RulesConfig } from '../config.js';
import { isAuthFailure, isNonCompliantFilterAnswer } from './failing.js';

// The overall state on /api/status (ARCHITECTURE §8), worst first:
//
//   quarantineSuspected  what Entra quarantines on: the cycle's probe refused (401/403) or not SCIM-compliant,
//                        a failure share over the escrow proportion, or a long silence after a failing cycle
//   stalled              no cycle started within the interval + grace after the last one was due
//   atRisk               heading there: half the escrow share, many deletes, 429 storms, stuck identities,
//                        or a refused Test Connection
//   degraded             some failures in the current or last cycle, or identities still failing
//   healthy              the last cycle went through
//   idle                 no provisioning cycle seen yet
//
// When the incident engine is wired in (always, in scimtap), its firing incidents decide instead, and this only
// gives the idle state and the next expected cycle; the rest is the fallback /api/status uses without an engine
// (its `firingIncidents` is optional). The stuck count it reads is the stuckObject rule's (store/queries).

export const overallStates = [
  'healthy',
  'degraded',
  'atRisk',
  'quarantineSuspected',
  'stalled',
  'idle',
] as const;
export type OverallState = (typeof overallStates)[number];

/** The cycle fields the state reads. */
export interface HealthCycle {
  id: number;
  kind: string;
  state: string;
  startedAt: number;
  endedAt: number;
  probeStatus: number | null;
  probeOutcome: string | null;
  probeErrorCode: string | null;
  total: number;
  failures: number;
  deletes: number;
  throttled: number;
}

export interface HealthInput {
  /** the running cycle, else the newest one */
  latest: HealthCycle | null;
  /** the newest initial or incremental cycle (running or not) */
  lastScheduled: HealthCycle | null;
  failingIdentities: number;
  /** identities failing for rules.stuckObjectCycles cycles or more */
  stuckIdentities: number;
  now: number;
  intervalMs: number;
  rules: Pick<
    RulesConfig,
    | 'escrowProportionShare'
    | 'escrowProportionMinFailures'
    | 'tooManyDeletes'
    | 'throttlingShare'
    | 'stalledGraceMinutes'
    | 'backoffGapMinutes'
  >;
}

export interface Health {
  state: OverallState;
  reason: string;
  /** when the next scheduled cycle is due; null before the first one */
  nextExpectedAt: number | null;
}

/**
 * When the next cycle is due: the last scheduled start + the interval. A cycle that outlasted the interval
 * (a long initial cycle) makes the next one due as soon as it ends.
 */
export function nextExpectedAt(lastScheduled: HealthCycle | null, intervalMs: number): number | null {
  if (!lastScheduled) return null;
  return Math.max(lastScheduled.startedAt + intervalMs, lastScheduled.endedAt);
}

// The probe's answer, judged by the definitions the rules use (failing.ts).
const refused = (c: HealthCycle) =>
  c.probeOutcome === 'failure' && isAuthFailure({ httpStatus: c.probeStatus });
const nonCompliant = (c: HealthCycle) =>
  c.probeOutcome === 'failure' &&
  isNonCompliantFilterAnswer({ httpStatus: c.probeStatus, errorCode: c.probeErrorCode });
const failing = (c: HealthCycle) => c.failures > 0 || c.probeOutcome === 'failure';
const pct = (x: number) => `${Math.round(x * 100)}%`;
const minutes = (ms: number) =>
  ms >= 120 * 60_000 ? `${Math.round(ms / 3_600_000)} h` : `${Math.round(ms / 60_000)} min`;

export function deriveHealth(input: HealthInput): Health {
  const { latest, lastScheduled, now, rules } = input;
  const next = nextExpectedAt(lastScheduled, input.intervalMs);
  const result = (state: OverallState, reason: string): Health => ({ state, reason, nextExpectedAt: next });

  if (!latest) return result('idle', 'no SCIM traffic recorded yet');
  const running = latest.state === 'running' ? latest : null;
  if (!lastScheduled) {
    if (running)
      return result('healthy', `a ${running.kind} run is in progress; no scheduled cycle seen yet`);
    return result('idle', 'no provisioning cycle seen yet (only Test Connection or on-demand runs)');
  }
  // The cycle whose health matters: the one running now, else the last scheduled one.
  const assessed = running ?? lastScheduled;
  const share = assessed.total > 0 ? assessed.failures / assessed.total : 0;

  if (refused(assessed)) {
    return result(
      'quarantineSuspected',
      `the cycle's probe was refused with HTTP ${assessed.probeStatus}: Entra quarantines the job on invalid credentials`,
    );
  }
  if (nonCompliant(assessed)) {
    return result(
      'quarantineSuspected',
      "the cycle's probe got a non-SCIM answer: Entra quarantines non-compliant apps",
    );
  }
  if (assessed.failures >= rules.escrowProportionMinFailures && share > rules.escrowProportionShare) {
    return result(
      'quarantineSuspected',
      `${pct(share)} of cycle ${assessed.id}'s calls failed (${assessed.failures}): over Entra's escrow proportion of ${pct(rules.escrowProportionShare)}`,
    );
  }
  if (
    !running &&
    failing(lastScheduled) &&
    now - lastScheduled.startedAt >= rules.backoffGapMinutes * 60_000
  ) {
    return result(
      'quarantineSuspected',
      `no cycle for ${minutes(now - lastScheduled.startedAt)} after failing cycle ${lastScheduled.id}: Entra backs off like this in quarantine`,
    );
  }
  if (!running && next !== null && now > next + rules.stalledGraceMinutes * 60_000) {
    return result(
      'stalled',
      `no cycle started since ${new Date(lastScheduled.startedAt).toISOString()} (expected every ${minutes(input.intervalMs)})`,
    );
  }
  if (assessed.failures >= rules.escrowProportionMinFailures && share > rules.escrowProportionShare / 2) {
    return result(
      'atRisk',
      `${pct(share)} of cycle ${assessed.id}'s calls failed, half-way to Entra's escrow proportion`,
    );
  }
  if (assessed.deletes > rules.tooManyDeletes) {
    return result(
      'atRisk',
      `${assessed.deletes} deletes and disables in cycle ${assessed.id}: Entra stops at ${rules.tooManyDeletes}`,
    );
  }
  if (assessed.total > 0 && assessed.throttled / assessed.total >= rules.throttlingShare) {
    return result(
      'atRisk',
      `${pct(assessed.throttled / assessed.total)} of cycle ${assessed.id}'s calls were throttled (429)`,
    );
  }
  if (input.stuckIdentities > 0) {
    return result('atRisk', `${input.stuckIdentities} identities have failed cycle after cycle`);
  }
  if (latest.id !== assessed.id && refused(latest)) {
    return result(
      'atRisk',
      `the last Test Connection was refused with HTTP ${latest.probeStatus}: the next cycle will be too`,
    );
  }
  if (failing(assessed)) {
    return result('degraded', `${assessed.failures} failed calls in cycle ${assessed.id}`);
  }
  if (input.failingIdentities > 0) {
    return result('degraded', `${input.failingIdentities} identities failed in their last cycle`);
  }
  return result(
    'healthy',
    running
      ? `cycle ${running.id} (${running.kind}) is running without failures`
      : `cycle ${lastScheduled.id} completed without failures`,
  );
}

/** A firing incident as the incident engine reports it; only these fields are read. */
export interface FiringIncident {
  rule?: string;
  severity?: string;
  summary?: string;
  reason?: string;
}

const quarantineRules = new Set([
  'credentials',
  'scimCompliance',
  'upstreamUnavailable',
  'escrowProportion',
  'escrowTotal',
  'backoffSuspected',
]);
const rank: Record<OverallState, number> = {
  idle: 0,
  healthy: 1,
  degraded: 2,
  atRisk: 3,
  stalled: 4,
  quarantineSuspected: 5,
};

/** The state from firing incidents: quarantine-class critical rules, then stalled, other criticals, warnings. */
export function healthFromIncidents(incidents: FiringIncident[], fallback: Health): Health {
  let best: Health | null = null;
  for (const i of incidents) {
    // Low severity (unrecognised clients) says nothing about provisioning's health.
    if (i.severity === 'low' || i.severity === 'info') continue;
    const critical = i.severity === 'critical';
    const state: OverallState =
      i.rule === 'stalled'
        ? 'stalled'
        : critical && quarantineRules.has(i.rule ?? '')
          ? 'quarantineSuspected'
          : critical
            ? 'atRisk'
            : 'degraded';
    const reason = i.summary ?? i.reason ?? i.rule ?? 'a firing incident';
    if (!best || rank[state] > rank[best.state])
      best = { state, reason, nextExpectedAt: fallback.nextExpectedAt };
  }
  if (best) return best;
  if (fallback.state === 'idle') return fallback;
  return { state: 'healthy', reason: 'no firing incidents', nextExpectedAt: fallback.nextExpectedAt };
}
