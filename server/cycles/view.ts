import { cycleRisk, type RiskRules, riskCountsFromErrorCodes } from '../detect/risk.js';
import type { CycleRow } from '../store/queries/cycles.js';
import type { IdentityRow } from '../store/queries/identities.js';
import { latencyBounds, parseHistogram, quantile } from './latency.js';
import { cycleProgress } from './progress.js';

// Rows → API JSON: ISO 8601 UTC times, parsed JSON columns, and what is derived from the rollups
// (failure rate, p50/p95, progress).

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function json<T>(text: string, fallback: T): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

/** `rules`: the escrow thresholds the cycle's risk (its colour on the dashboard) is judged by. */
export function toCycleView(c: CycleRow, rules: RiskRules) {
  const histogram = parseHistogram(c.latencyHistogram);
  const progress = cycleProgress(c);
  const counts = {
    total: c.total,
    failures: c.failures,
    probeFailed: c.probeOutcome === 'failure',
    ...riskCountsFromErrorCodes(json<Record<string, number>>(c.countsByErrorCode, {})),
  };
  return {
    id: c.id,
    kind: c.kind,
    state: c.state,
    startedAt: iso(c.startedAt),
    endedAt: iso(c.endedAt),
    closedAt: iso(c.closedAt),
    durationMs: Math.max(0, c.endedAt - c.startedAt),
    probe:
      c.probeOutcome === null
        ? null
        : {
            operationId: c.probeOperationId,
            httpStatus: c.probeStatus,
            status: c.probeOutcome,
            errorCode: c.probeErrorCode,
          },
    total: c.total,
    successes: c.successes,
    failures: c.failures,
    warnings: c.warnings,
    failureRate: c.total > 0 ? Math.round((c.failures / c.total) * 10_000) / 10_000 : 0,
    /** a failure anywhere, the probe included */
    failing: c.failures > 0 || c.probeOutcome === 'failure',
    /** calls answered 401/403, and filter queries answered non-compliantly: what `risk` reads beside the above */
    authFailures: counts.authFailures,
    complianceFailures: counts.complianceFailures,
    /** what Entra would make of the cycle (detect/risk.ts): the dashboard's red, amber or no marker */
    risk: cycleRisk(counts, rules),
    deletes: c.deletes,
    throttled: c.throttled,
    usersTouched: c.usersTouched,
    groupsTouched: c.groupsTouched,
    membersTouched: c.membersTouched,
    lookups: c.lookups,
    processedObjects: c.processedObjects,
    expectedObjects: c.expectedObjects,
    latency: {
      p50Ms: quantile(histogram, 0.5, c.latencyMaxMs),
      p95Ms: quantile(histogram, 0.95, c.latencyMaxMs),
      meanMs: c.total > 0 ? Math.round(c.latencySumMs / c.total) : null,
      maxMs: c.total > 0 ? c.latencyMaxMs : null,
    },
    progress: progress && { ...progress, etaAt: iso(progress.etaAt) },
  };
}
export type CycleView = ReturnType<typeof toCycleView>;

/** One cycle with everything the rollups hold. */
export function toCycleDetail(c: CycleRow, rules: RiskRules) {
  const view = toCycleView(c, rules);
  return {
    ...view,
    provisioningOps: c.provisioningOps,
    knownIdentities: c.knownIdentities,
    countsByOperation: json<Record<string, { success: number; failure: number; warning: number }>>(
      c.countsByOperation,
      {},
    ),
    countsByErrorCode: json<Record<string, number>>(c.countsByErrorCode, {}),
    latency: {
      ...view.latency,
      histogram: {
        boundsMs: latencyBounds.map((b) => Math.round(b * 100) / 100),
        counts: parseHistogram(c.latencyHistogram),
      },
    },
  };
}

/**
 * The last failure as one object, every field from the same operation, apart from the last outcome (the flat
 * last* fields). `past`: a later call on the identity did not fail. Rows recorded before these columns existed
 * have no operation id or HTTP status until `scimtap rebuild`.
 */
export function lastFailureOf(i: IdentityRow) {
  if (i.lastErrorAt === null) return null;
  return {
    operationId: i.lastErrorOperationId,
    cycleId: i.lastFailedCycleId,
    status: 'failure' as const,
    httpStatus: i.lastErrorHttpStatus,
    errorCode: i.lastErrorCode,
    reason: i.lastReason,
    time: iso(i.lastErrorAt) as string,
    // the last failure is the last operation while the last status is failure (both set by one operation)
    past: i.lastStatus !== 'failure',
  };
}
export type LastFailure = NonNullable<ReturnType<typeof lastFailureOf>>;

export function toIdentityView(i: IdentityRow) {
  return {
    id: i.id,
    type: i.type,
    key: i.key,
    name: i.name,
    externalId: i.externalId,
    targetId: i.targetId,
    lastOperation: i.lastOperation,
    lastOperationId: i.lastOperationId,
    lastStatus: i.lastStatus,
    lastHttpStatus: i.lastHttpStatus,
    lastFailure: lastFailureOf(i),
    failingStreak: i.failingStreak,
    failingSince: i.failingStreak > 0 ? iso(i.failingSince) : null,
    lastCycleId: i.lastCycleId,
    firstSeen: iso(i.firstSeen),
    lastSeen: iso(i.lastSeen),
    active: i.active,
    deleted: i.deleted,
  };
}
export type IdentityView = ReturnType<typeof toIdentityView>;
