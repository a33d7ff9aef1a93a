import { evidence, formatDuration, identitiesFromSamples, type Rule } from './rule-helpers.js';

// The rules over the windows that belong to no cycle: credentials, filter answers, availability, latency, the
// recorder and strangers' requests.

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
