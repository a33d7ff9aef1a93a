// The overall state on /api/status (ARCHITECTURE §8), worst first:
//
//   quarantineSuspected  a critical quarantine-class rule fires (credentials, scimCompliance, upstreamUnavailable,
//                        escrowProportion, escrowTotal, backoffSuspected)
//   stalled              the stalled rule fires
//   atRisk               another critical rule fires
//   degraded             a warning fires
//   healthy              nothing fires
//   idle                 no provisioning cycle seen yet
//
// The firing incidents decide: the rules are the one judge of the rollups, so the state on the dashboard and
// the emails cannot disagree (issue 12). What is left here is what no rule says: idle before the first
// scheduled cycle, and when the next one is due.

export const overallStates = [
  'healthy',
  'degraded',
  'atRisk',
  'quarantineSuspected',
  'stalled',
  'idle',
] as const;
export type OverallState = (typeof overallStates)[number];

/** The cycle fields the baseline reads. */
export interface HealthCycle {
  id: number;
  kind: string;
  state: string;
  startedAt: number;
  endedAt: number;
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

/**
 * The state when no incident fires: idle before any scheduled cycle, else healthy (naming the cycle). Pure.
 * @param latest the running cycle, else the newest one
 * @param lastScheduled the newest initial or incremental cycle (running or not)
 */
export function baselineHealth({
  latest,
  lastScheduled,
  intervalMs,
}: {
  latest: HealthCycle | null;
  lastScheduled: HealthCycle | null;
  intervalMs: number;
}): Health {
  const next = nextExpectedAt(lastScheduled, intervalMs);
  const result = (state: OverallState, reason: string): Health => ({ state, reason, nextExpectedAt: next });
  if (!latest) return result('idle', 'no SCIM traffic recorded yet');
  const running = latest.state === 'running' ? latest : null;
  if (!lastScheduled) {
    if (running)
      return result('healthy', `a ${running.kind} run is in progress; no scheduled cycle seen yet`);
    return result('idle', 'no provisioning cycle seen yet (only Test Connection or on-demand runs)');
  }
  return result(
    'healthy',
    running ? `cycle ${running.id} (${running.kind}) is running` : `cycle ${lastScheduled.id} completed`,
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
export function healthFromIncidents(incidents: FiringIncident[], baseline: Health): Health {
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
      best = { state, reason, nextExpectedAt: baseline.nextExpectedAt };
  }
  if (best) return best;
  if (baseline.state === 'idle') return baseline;
  return { ...baseline, reason: `no firing incidents; ${baseline.reason}` };
}
