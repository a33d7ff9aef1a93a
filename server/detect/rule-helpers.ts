import type { RulesConfig } from '../config.js';
import { cycleRisk } from './risk.js';
import type {
  AffectedIdentity,
  CycleRollup,
  DetectionInput,
  Evidence,
  Finding,
  OperationSample,
} from './types.js';

/** A rule: data and a time in, findings out (ARCHITECTURE §6). No I/O, no clock of its own. */
export type Rule = (input: DetectionInput, rules: RulesConfig, now: number) => Finding[];

export const MAX_SAMPLES = 5;
export const MAX_IDENTITIES = 20;

export function evidence(e: Partial<Evidence> & { count: number }): Evidence {
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

export function identitiesFromSamples(samples: OperationSample[]): AffectedIdentity[] {
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

export function cycleDetails(c: CycleRollup) {
  return { cycleId: c.id, cycleStartedAt: c.startedAt, cycleState: c.state, cycleTotal: c.total };
}
