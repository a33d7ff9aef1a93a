import { overEscrowShare } from './risk.js';
import {
  cycleDetails,
  decisiveCycle,
  evidence,
  formatDuration,
  identitiesFromSamples,
  isAttempt,
  isFailingCycle,
  MAX_SAMPLES,
  percent,
  type Rule,
} from './rule-helpers.js';
import type { CycleRollup } from './types.js';

// The rules over the cycle rollups and the identity rollups: escrow, deletes, throttling, stuck objects, and
// the gaps between cycles.

export const escrowProportion: Rule = (input, rules) => {
  const c = decisiveCycle(input.cycles, (x) => overEscrowShare(x, rules));
  if (!c) return [];
  const share = c.failures / c.total;
  return [
    {
      rule: 'escrowProportion',
      severity: 'critical',
      scope: 'app',
      entraReason: 'EncounteredEscrowProportionThreshold',
      summary: `${percent(share)} of a cycle's calls failed (${c.failures} of ${c.total}) — Entra quarantines above ${percent(rules.escrowProportionShare)}`,
      reasonKey: 'proportion',
      evidence: evidence({
        count: c.failures,
        firstSeen: c.firstFailureAt,
        lastSeen: c.lastFailureAt,
        samples: c.failureSamples,
        identities: c.failedIdentities,
        identityCount: c.failedIdentityCount,
        details: { ...cycleDetails(c), share, threshold: rules.escrowProportionShare },
      }),
    },
  ];
};

export const escrowTotal: Rule = (input, rules) => {
  const s = input.sinceHealthy;
  const baseShare = s.failuresBase / rules.escrowTotalFailures;
  const allShare = s.failures / rules.escrowTotalAllKinds;
  const share = Math.max(baseShare, allShare);
  if (share <= rules.escrowWarningShare) return [];
  const severity = baseShare > 1 || allShare > 1 ? 'critical' : 'warning';
  const entraReason =
    baseShare >= allShare ? 'EncounteredBaseEscrowThreshold' : 'EncounteredTotalEscrowThreshold';
  const [count, threshold] =
    entraReason === 'EncounteredBaseEscrowThreshold'
      ? [s.failuresBase, rules.escrowTotalFailures]
      : [s.failures, rules.escrowTotalAllKinds];
  const recent = [...input.cycles].reverse().find((c) => c.failures > 0);
  return [
    {
      rule: 'escrowTotal',
      severity,
      scope: 'app',
      entraReason,
      summary:
        severity === 'critical'
          ? `${count.toLocaleString('en-US')} failures since the last healthy cycle — above Entra's quarantine threshold of ${threshold.toLocaleString('en-US')}`
          : `${count.toLocaleString('en-US')} failures since the last healthy cycle (${percent(count / threshold)} of Entra's quarantine threshold of ${threshold.toLocaleString('en-US')})`,
      reasonKey: `${severity}:${entraReason}`,
      evidence: evidence({
        count,
        firstSeen: s.since,
        lastSeen: s.lastSeen,
        samples: recent?.failureSamples ?? [],
        identities: recent?.failedIdentities ?? [],
        identityCount: recent?.failedIdentityCount,
        details: {
          failures: s.failures,
          failuresBase: s.failuresBase,
          threshold,
          warningAt: Math.round(threshold * rules.escrowWarningShare),
          lastHealthyCycleEndedAt: s.since,
        },
      }),
    },
  ];
};

export const tooManyDeletes: Rule = (input, rules) => {
  const c = decisiveCycle(input.cycles, (x) => x.deletes > rules.tooManyDeletes);
  if (!c) return [];
  return [
    {
      rule: 'tooManyDeletes',
      severity: 'warning',
      scope: 'app',
      entraReason: 'TooManyDeletes',
      summary: `${c.deletes} deletes and disables in one cycle — above the accidental-deletion threshold of ${rules.tooManyDeletes}`,
      reasonKey: 'deletes',
      evidence: evidence({
        count: c.deletes,
        firstSeen: c.firstDeleteAt,
        lastSeen: c.lastDeleteAt,
        samples: c.deleteSamples,
        identities: identitiesFromSamples(c.deleteSamples),
        details: { ...cycleDetails(c), threshold: rules.tooManyDeletes },
      }),
    },
  ];
};

export const throttling: Rule = (input, rules) => {
  const exceeds = (c: CycleRollup) =>
    c.throttled >= rules.throttlingMinCount && c.total > 0 && c.throttled / c.total >= rules.throttlingShare;
  const c = decisiveCycle(input.cycles, exceeds);
  if (!c) return [];
  return [
    {
      rule: 'throttling',
      severity: 'warning',
      scope: 'app',
      entraReason: 'TooManyRequests',
      summary: `${percent(c.throttled / c.total)} of a cycle's calls were throttled (${c.throttled} × 429)`,
      reasonKey: 'throttled',
      evidence: evidence({
        count: c.throttled,
        firstSeen: c.firstThrottleAt,
        lastSeen: c.lastThrottleAt,
        samples: c.throttleSamples,
        identities: identitiesFromSamples(c.throttleSamples),
        details: { ...cycleDetails(c), share: c.throttled / c.total, threshold: rules.throttlingShare },
      }),
    },
  ];
};

/** Nearest-rank percentile. */
export const stuckObject: Rule = (input, rules) => {
  const stuck = input.stuck.filter((s) => s.streak >= rules.stuckObjectCycles);
  if (stuck.length === 0) return [];
  const names = stuck.slice(0, 3).map((s) => s.name);
  const more = stuck.length > 3 ? ` and ${stuck.length - 3} more` : '';
  const samples = stuck.flatMap((s) => (s.lastSample ? [s.lastSample] : [])).slice(0, MAX_SAMPLES);
  return [
    {
      rule: 'stuckObject',
      severity: 'warning',
      scope: 'app',
      entraReason: 'EscrowedEntries',
      summary: `${stuck.length === 1 ? '1 object has' : `${stuck.length} objects have`} failed in ${rules.stuckObjectCycles}+ consecutive cycles: ${names.join(', ')}${more}`,
      reasonKey: 'stuck',
      evidence: evidence({
        count: stuck.length,
        firstSeen: Math.min(...stuck.map((s) => s.firstFailedAt)),
        lastSeen: Math.max(...stuck.map((s) => s.lastFailedAt)),
        samples,
        identities: stuck.map(({ key, name, type, streak, errorCode, reason }) => ({
          key,
          name,
          type,
          streak,
          errorCode,
          reason,
        })),
        identityCount: stuck.length,
        details: { threshold: rules.stuckObjectCycles, longestStreak: stuck[0].streak },
      }),
    },
  ];
};

export const stalled: Rule = (input, rules, now) => {
  const latest = input.cycles.filter(isAttempt).at(-1);
  if (!latest || latest.state === 'running' || latest.endedAt === null) return [];
  const expected = Math.max(latest.startedAt + input.cycleIntervalMs, latest.endedAt);
  const graceMs = rules.stalledGraceMinutes * 60_000;
  if (now < expected + graceMs) return [];
  return [
    {
      rule: 'stalled',
      severity: 'warning',
      scope: 'app',
      entraReason: null,
      summary: `no provisioning cycle for ${formatDuration(now - latest.startedAt)} (expected every ${formatDuration(input.cycleIntervalMs)})`,
      reasonKey: 'stalled',
      // Time-based: the condition is observed now, which is what lets it notify once an inhibitor resolves.
      evidence: evidence({
        count: 1,
        firstSeen: expected + graceMs,
        lastSeen: now,
        details: {
          lastCycleId: latest.id,
          lastCycleStartedAt: latest.startedAt,
          lastCycleEndedAt: latest.endedAt,
          expectedBy: expected,
          graceMinutes: rules.stalledGraceMinutes,
        },
      }),
    },
  ];
};

export const backoffSuspected: Rule = (input, rules, now) => {
  const attempts = input.cycles.filter(isAttempt);
  let start = 0;
  for (let i = attempts.length - 1; i >= 0; i--) {
    if (attempts[i].state === 'completed' && !isFailingCycle(attempts[i], rules)) {
      start = i + 1;
      break;
    }
  }
  const gapMs = rules.backoffGapMinutes * 60_000;
  let found: { failing: CycleRollup; gap: number; next: CycleRollup | null } | null = null;
  for (let i = start; i < attempts.length; i++) {
    const c = attempts[i];
    if (c.state !== 'completed' || c.endedAt === null || !isFailingCycle(c, rules)) continue;
    const next = attempts[i + 1] ?? null;
    const gap = (next ? next.startedAt : now) - c.endedAt;
    if (gap >= gapMs) found = { failing: c, gap, next };
  }
  if (!found) return [];
  const { failing, gap, next } = found;
  return [
    {
      rule: 'backoffSuspected',
      severity: 'critical',
      scope: 'app',
      entraReason: 'QuarantineBackoff',
      summary: `${next ? 'the next cycle came' : 'no cycle for'} ${formatDuration(gap)} after a failing cycle — Entra has likely quarantined the job`,
      reasonKey: 'backoff',
      evidence: evidence({
        count: failing.failures,
        firstSeen: failing.startedAt,
        lastSeen: now,
        samples: failing.failureSamples,
        identities: failing.failedIdentities,
        identityCount: failing.failedIdentityCount,
        details: {
          ...cycleDetails(failing),
          failingCycleEndedAt: failing.endedAt,
          gapMs: gap,
          thresholdMinutes: rules.backoffGapMinutes,
          nextCycleStartedAt: next?.startedAt ?? null,
        },
      }),
    },
  ];
};
