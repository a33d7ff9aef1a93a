import type { RulesConfig } from '../config.js';
import { cycleRisk, overEscrowShare } from './risk.js';
import type {
  AffectedIdentity,
  CycleRollup,
  DetectionInput,
  Evidence,
  Finding,
  OperationSample,
  RuleCode,
} from './types.js';

/** A rule: data and a time in, findings out (ARCHITECTURE §6). No I/O, no clock of its own. */
export type Rule = (input: DetectionInput, rules: RulesConfig, now: number) => Finding[];

const MAX_SAMPLES = 5;
const MAX_IDENTITIES = 20;

function evidence(e: Partial<Evidence> & { count: number }): Evidence {
  const samples = (e.samples ?? []).slice(-MAX_SAMPLES);
  const identities = (e.identities ?? []).slice(0, MAX_IDENTITIES);
  return {
    count: e.count,
    firstSeen: e.firstSeen ?? null,
    lastSeen: e.lastSeen ?? null,
    samples,
    sampleOperationIds: e.sampleOperationIds?.slice(-MAX_SAMPLES) ?? samples.map((s) => s.id),
    identities,
    identityCount: Math.max(e.identityCount ?? 0, identities.length),
    details: e.details ?? {},
  };
}

export function percent(share: number): string {
  return `${Math.round(share * 100)}%`;
}

export function formatDuration(ms: number): string {
  const minutes = Math.max(0, Math.round(ms / 60_000));
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  if (h === 0) return `${m} min`;
  return m === 0 ? `${h} h` : `${h} h ${m} min`;
}

function identitiesFromSamples(samples: OperationSample[]): AffectedIdentity[] {
  const seen = new Map<string, AffectedIdentity>();
  for (const s of samples) {
    if (s.identity && !seen.has(s.identity)) {
      seen.set(s.identity, {
        key: s.identity,
        name: s.identity,
        type: null,
        errorCode: s.errorCode,
        reason: s.reason,
      });
    }
  }
  return [...seen.values()];
}

/** A cycle Entra actually ran: anything but a lone, successful Test Connection probe. */
export function isAttempt(c: CycleRollup): boolean {
  return !c.probeOnly || c.probe?.failed === true;
}

/**
 * A cycle after which Entra would quarantine: its probe failed, credentials or compliance failed, or the failure
 * share is over the escrow threshold. The dashboard's red marker is the same function (detect/risk.ts).
 */
export function isFailingCycle(c: CycleRollup, rules: RulesConfig): boolean {
  const probeFailed = c.probe?.failed === true;
  return cycleRisk({ ...c, probeFailed }, rules) === 'quarantine';
}

/**
 * The cycle a per-cycle rule judges. A running cycle counts as soon as it crosses the threshold; until then the
 * last completed cycle stands, so an incident resolves only once a whole cycle has run below the threshold.
 */
export function decisiveCycle(
  cycles: CycleRollup[],
  exceeds: (c: CycleRollup) => boolean,
): CycleRollup | null {
  const attempts = cycles.filter(isAttempt);
  const latest = attempts.at(-1);
  if (!latest) return null;
  if (exceeds(latest)) return latest;
  if (latest.state === 'running') {
    const previous = attempts.at(-2);
    if (previous && exceeds(previous)) return previous;
  }
  return null;
}

function cycleDetails(c: CycleRollup) {
  return { cycleId: c.id, cycleStartedAt: c.startedAt, cycleState: c.state, cycleTotal: c.total };
}

export const credentials: Rule = (input, rules) => {
  const a = input.stream.auth;
  const probe = input.stream.lastProbe;
  // The probe counts while it belongs to the current run of rejections (nothing was accepted since).
  const probeRejected =
    probe !== null &&
    (probe.httpStatus === 401 || probe.httpStatus === 403) &&
    a.consecutive > 0 &&
    a.firstSeen !== null &&
    probe.time >= a.firstSeen;
  if (a.consecutive < rules.credentialsConsecutive && !probeRejected) return [];
  const status =
    a.errorCodes.includes('Unauthorized') || a.samples.some((s) => s.httpStatus === 401) ? 401 : 403;
  const tokenChanged =
    a.lastGoodTokenFingerprint !== null &&
    a.tokenFingerprints.length > 0 &&
    !a.tokenFingerprints.includes(a.lastGoodTokenFingerprint);
  return [
    {
      rule: 'credentials',
      severity: 'critical',
      scope: 'app',
      entraReason: 'EncounteredQuarantineException',
      // The wording stays put once the streak alone suffices, so the resolved email's subject matches the first.
      summary:
        a.consecutive >= rules.credentialsConsecutive
          ? `credentials rejected (${status}) — provisioning will be quarantined`
          : `the cycle's Test Connection probe was rejected (${status}) — provisioning will be quarantined`,
      reasonKey: String(status),
      evidence: evidence({
        count: a.consecutive,
        firstSeen: a.firstSeen,
        lastSeen: a.lastSeen,
        samples: a.samples,
        identities: a.identities,
        identityCount: a.identityCount,
        details: {
          httpStatus: status,
          consecutive: a.consecutive,
          threshold: rules.credentialsConsecutive,
          probeRejected,
          tokenFingerprints: a.tokenFingerprints,
          lastGoodTokenFingerprint: a.lastGoodTokenFingerprint,
          tokenChanged,
        },
      }),
    },
  ];
};

export const scimCompliance: Rule = (input, rules) => {
  const answers = input.stream.filterAnswers;
  const bad = answers.filter((a) => a.nonCompliant).map((a) => a.sample);
  if (bad.length === 0) return [];
  const all404 = bad.every((s) => s.httpStatus === 404);
  return [
    {
      rule: 'scimCompliance',
      severity: 'critical',
      scope: 'app',
      entraReason: 'EncounteredQuarantineException',
      summary: all404
        ? 'filter queries answered 404 instead of an empty ListResponse — Entra quarantines non-compliant apps'
        : 'filter queries answered with a non-SCIM response — Entra quarantines non-compliant apps',
      // One key for both wordings: a mix of 404s and non-SCIM answers must not flip-flop into emails.
      reasonKey: 'compliance',
      evidence: evidence({
        count: bad.length,
        firstSeen: bad[0].time,
        lastSeen: bad.at(-1)!.time,
        samples: bad,
        identities: identitiesFromSamples(bad),
        details: {
          nonCompliant: bad.length,
          filterQueries: answers.length,
          window: rules.scimComplianceWindow,
        },
      }),
    },
  ];
};

export const upstreamUnavailable: Rule = (input, rules) => {
  const u = input.stream.unavailable;
  const outcomes = input.stream.outcomes;
  const down = outcomes.filter((o) => o.unavailable);
  const needed = Math.max(1, Math.ceil(rules.upstreamWindowShare * rules.upstreamWindow));
  const byStreak = u.consecutive >= rules.upstreamConsecutive;
  const byShare = down.length >= needed;
  if (!byStreak && !byShare) return [];
  const samples = byStreak ? u.samples : down.flatMap((o) => (o.sample ? [o.sample] : []));
  const codes = [...new Set(samples.map((s) => s.errorCode ?? String(s.httpStatus)))].join(', ');
  return [
    {
      rule: 'upstreamUnavailable',
      severity: 'critical',
      scope: 'app',
      entraReason: 'EncounteredQuarantineException',
      summary: byStreak
        ? `the app is unreachable: ${u.consecutive} calls in a row failed (${codes}) — provisioning will be quarantined`
        : `the app is unreachable: ${down.length} of the last ${outcomes.length} calls failed (${codes}) — provisioning will be quarantined`,
      reasonKey: 'unavailable',
      evidence: evidence({
        count: byStreak ? Math.max(u.consecutive, down.length) : down.length,
        firstSeen: byStreak ? u.firstSeen : down[0].time,
        lastSeen: byStreak ? u.lastSeen : down.at(-1)!.time,
        samples,
        identities: byStreak ? u.identities : identitiesFromSamples(samples),
        identityCount: byStreak ? u.identityCount : undefined,
        details: {
          consecutive: u.consecutive,
          consecutiveThreshold: rules.upstreamConsecutive,
          unavailableInWindow: down.length,
          window: outcomes.length,
          windowThreshold: needed,
        },
      }),
    },
  ];
};

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
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

export const slowUpstream: Rule = (input, rules) => {
  const lat = input.stream.latencies;
  if (lat.length < rules.slowUpstreamMinCalls) return [];
  const p95 = percentile(
    lat.map((l) => l.durationMs),
    0.95,
  );
  if (p95 <= rules.slowUpstreamMs) return [];
  const slow = lat.filter((l) => l.durationMs > rules.slowUpstreamMs);
  const samples = slow.flatMap((l) => (l.sample ? [l.sample] : []));
  return [
    {
      rule: 'slowUpstream',
      severity: 'warning',
      scope: 'app',
      entraReason: 'Timeout',
      summary: `the app is slow: p95 latency ${(p95 / 1000).toFixed(1)} s over the last ${lat.length} calls`,
      reasonKey: 'slow',
      evidence: evidence({
        count: slow.length,
        firstSeen: slow[0]?.time ?? lat[0].time,
        lastSeen: slow.at(-1)?.time ?? lat.at(-1)!.time,
        samples,
        sampleOperationIds: slow.map((l) => l.id),
        identities: identitiesFromSamples(samples),
        details: { p95Ms: p95, thresholdMs: rules.slowUpstreamMs, window: lat.length },
      }),
    },
  ];
};

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

export const recorderFailing: Rule = (input, rules, now) => {
  const r = input.recorder;
  const recentDrop = r.lastDropAt !== null && now - r.lastDropAt < rules.recorderDropWindowMinutes * 60_000;
  const fileProblem = r.fileProblem ?? null;
  if (!r.failing && !recentDrop && !fileProblem) return [];
  return [
    {
      rule: 'recorderFailing',
      severity: 'critical',
      scope: 'app',
      entraReason: null,
      summary: fileProblem
        ? `the database file (SCIMTAP_DB) was ${fileProblem === 'missing' ? 'deleted' : 'replaced'} while scimtap has it open: operations recorded now are lost at exit`
        : r.failing
          ? `scimtap cannot write operations to its database${r.dropped > 0 ? ` (${r.dropped} dropped)` : ''}`
          : `scimtap dropped ${r.dropped} operations it could not record`,
      reasonKey: fileProblem ? `file-${fileProblem}` : r.failing ? 'failing' : 'dropped',
      evidence: evidence({
        count: r.dropped,
        firstSeen: r.lastErrorAt ?? r.lastDropAt,
        lastSeen: Math.max(r.lastErrorAt ?? 0, r.lastDropAt ?? 0) || null,
        details: {
          failing: r.failing,
          dropped: r.dropped,
          queued: r.queued,
          writeErrors: r.writeErrors,
          lastError: r.lastError,
          fileProblem,
        },
      }),
    },
  ];
};

/**
 * Requests from outside the provisioning client: scanners, wrong tokens between cycles, addresses refused by
 * SCIMTAP_TRUSTED_CLIENTS. Low severity and its own rule: it says someone else is knocking, never that Entra
 * will quarantine the job, so it neither inhibits nor is inhibited, and routes take it only when they name it.
 */
export const unrecognisedClients: Rule = (input, rules) => {
  const u = input.unrecognised;
  if (u.count < rules.unrecognisedClientsCount) return [];
  const windowMs = rules.unrecognisedClientsWindowMinutes * 60_000;
  const addresses = u.addresses.length;
  return [
    {
      rule: 'unrecognisedClients',
      severity: 'low',
      scope: 'app',
      entraReason: null,
      summary: `${u.count} requests from unrecognised clients in the last ${formatDuration(windowMs)} (${addresses === 1 ? u.addresses[0].value : `${addresses}${addresses === 10 ? '+' : ''} addresses`}) — not Entra's provisioning job`,
      reasonKey: 'unrecognised',
      evidence: evidence({
        count: u.count,
        firstSeen: u.firstSeen,
        lastSeen: u.lastSeen,
        samples: u.samples,
        details: {
          threshold: rules.unrecognisedClientsCount,
          windowMinutes: rules.unrecognisedClientsWindowMinutes,
          addresses: u.addresses.map((a) => `${a.value} ×${a.count}`),
          paths: u.paths.map((p) => `${p.value} ×${p.count}`),
        },
      }),
    },
  ];
};

export const rules: Record<RuleCode, Rule> = {
  credentials,
  scimCompliance,
  upstreamUnavailable,
  escrowProportion,
  escrowTotal,
  tooManyDeletes,
  throttling,
  slowUpstream,
  stuckObject,
  stalled,
  backoffSuspected,
  recorderFailing,
  unrecognisedClients,
};

/** Every rule over one snapshot. */
export function evaluateRules(input: DetectionInput, config: RulesConfig, now: number): Finding[] {
  return Object.values(rules).flatMap((rule) => rule(input, config, now));
}
