import type { RuleCode } from '../detect/types.js';
import type { NotificationView } from '../store/queries/notifications.js';
import { inhibitorOf, isSilenceActive, silenceFor } from './decide.js';
import type { Incident, Silence } from './types.js';

const iso = (ms: number | null | undefined) =>
  ms === null || ms === undefined ? null : new Date(ms).toISOString();

// Evidence details hold rule-specific timestamps (cycleStartedAt, expectedBy ...): shown as ISO like every time.
const timeKey = /(At|By|Seen)$/;

function isoDetails(details: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(details)) {
    out[k] = timeKey.test(k) && typeof v === 'number' ? iso(v) : v;
  }
  return out;
}

export interface MuteView {
  by: 'silence' | 'inhibition';
  silenceId?: number;
  rule?: RuleCode;
  until?: string | null;
}

/** An incident as the API shows it: ISO times, what mutes it now, and its emails. */
export function toIncidentView(
  i: Incident,
  ctx: {
    now: number;
    firing: ReadonlySet<RuleCode>;
    silences: Silence[];
    notifications?: NotificationView[];
  },
) {
  const silence = silenceFor(i, ctx.silences, ctx.now);
  const inhibitor = i.state === 'firing' ? inhibitorOf(i.rule, ctx.firing) : null;
  const mutedBy: MuteView | null = silence
    ? { by: 'silence', silenceId: silence.id, until: iso(silence.expiresAt) }
    : inhibitor
      ? { by: 'inhibition', rule: inhibitor }
      : null;
  const e = i.evidence;
  return {
    id: i.id,
    key: i.key,
    rule: i.rule,
    scope: i.scope,
    severity: i.severity,
    state: i.state,
    entraReason: i.entraReason,
    summary: i.summary,
    reason: i.reasonKey,
    startedAt: iso(i.startedAt),
    firedAt: iso(i.firedAt),
    lastTrueAt: iso(i.lastTrueAt),
    clearedAt: iso(i.clearedAt),
    resolvedAt: iso(i.resolvedAt),
    acknowledged: i.acknowledgedAt !== null,
    acknowledgedAt: iso(i.acknowledgedAt),
    acknowledgedBy: i.acknowledgedBy,
    ackComment: i.ackComment,
    mutedBy,
    evidence: {
      count: e.count,
      firstSeen: iso(e.firstSeen),
      lastSeen: iso(e.lastSeen),
      sampleOperationIds: e.sampleOperationIds,
      // the operation's fields under the names /api/operations and the CSV use (server/vocabulary.ts)
      samples: e.samples.map(({ time, ...s }) => ({ ...s, activityDateTime: iso(time) })),
      identities: e.identities,
      identityCount: e.identityCount,
      details: isoDetails(e.details),
    },
    ...(ctx.notifications ? { notifications: ctx.notifications } : {}),
  };
}

export type IncidentView = ReturnType<typeof toIncidentView>;

export function toSilenceView(s: Silence, now: number) {
  return {
    id: s.id,
    rule: s.rule,
    identity: s.identity,
    comment: s.comment,
    createdBy: s.createdBy,
    createdAt: iso(s.createdAt),
    expiresAt: iso(s.expiresAt),
    endedAt: iso(s.endedAt),
    active: isSilenceActive(s, now),
  };
}

/** Firing incidents for GET /api/status (the status route reads rule, severity and summary). */
export async function firingIncidentViews(
  alerts: { firingIncidents(): Incident[] | Promise<Incident[]> },
  silences: Silence[],
  now: number,
): Promise<IncidentView[]> {
  const firing = await alerts.firingIncidents();
  const ctx = { now, firing: new Set(firing.map((i) => i.rule)), silences };
  return firing.map((i) => toIncidentView(i, ctx));
}
