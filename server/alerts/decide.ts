import type { RulesConfig } from '../config.js';
import type { OperationSample, RuleCode } from '../detect/types.js';
import type { Incident, NotifyReason, SentNotification, Silence } from './types.js';

/**
 * Whether an incident's state calls for an email now (STYLE §8). Pure. Muting (inhibition, silences) is decided
 * before this, by `muteReason`; this only answers "given what was already queued, is something new to say?".
 *
 *   incident.state  last email queued                                  → reason
 *   pending         any                                                → none       (not confirmed yet)
 *   firing          none                                               → first
 *   firing          `resolved` (cannot happen: keys never reopen)      → first      (never go silent)
 *   firing          any, with a different reason key                   → reasonChanged
 *   firing          same reason, acknowledged                          → none       (someone is on it)
 *   firing          same reason, ≥ rules.reminderHours ago             → reminder
 *   firing          same reason, more recent                           → none
 *   resolved        none                                               → none       (nobody was told it started)
 *   resolved        `resolved`                                         → none       (already said)
 *   resolved        anything else                                      → resolved
 */
export function shouldNotify(
  incident: Pick<Incident, 'state' | 'reasonKey' | 'acknowledgedAt'>,
  lastSent: SentNotification | null,
  now: number,
  rules: Pick<RulesConfig, 'reminderHours'>,
): NotifyReason {
  switch (incident.state) {
    case 'pending':
      return 'none';
    case 'resolved':
      return lastSent === null || lastSent.event === 'resolved' ? 'none' : 'resolved';
    case 'firing':
      if (lastSent === null || lastSent.event === 'resolved') return 'first';
      if (lastSent.reasonKey !== incident.reasonKey) return 'reasonChanged';
      if (incident.acknowledgedAt !== null) return 'none';
      return now - lastSent.createdAt >= rules.reminderHours * 3_600_000 ? 'reminder' : 'none';
  }
}

/**
 * Root causes whose firing mutes the rules they explain (ARCHITECTURE §6): with the token rejected, the app down
 * or its filters broken, every object fails, escrow counts climb and cycles look stalled; one email says it all.
 */
export const inhibitors: Partial<Record<RuleCode, readonly RuleCode[]>> = {
  credentials: ['escrowProportion', 'escrowTotal', 'throttling', 'slowUpstream', 'stuckObject', 'stalled'],
  upstreamUnavailable: [
    'escrowProportion',
    'escrowTotal',
    'throttling',
    'slowUpstream',
    'stuckObject',
    'stalled',
  ],
  scimCompliance: ['escrowProportion', 'escrowTotal', 'throttling', 'slowUpstream', 'stuckObject', 'stalled'],
  // Quarantine backoff is the precise reading of a stall that follows a failing cycle.
  backoffSuspected: ['stalled'],
};

/** Does this failure belong to the root cause the inhibitor names (so its own email already covered it)? */
export function explainedBy(
  inhibitor: RuleCode,
  sample: Pick<OperationSample, 'httpStatus' | 'errorCode'>,
): boolean {
  const code = sample.errorCode ?? '';
  const status = sample.httpStatus;
  switch (inhibitor) {
    case 'credentials':
      return code === 'Unauthorized' || code === 'InsufficientRights' || status === 401 || status === 403;
    case 'upstreamUnavailable':
      return (
        code === 'UpstreamUnreachable' ||
        code === 'Timeout' ||
        status === 502 ||
        status === 503 ||
        status === 504
      );
    case 'scimCompliance':
      return code === 'ScimCompliance' || code === 'ServiceIncompatible' || status === 404;
    default:
      return false;
  }
}

/** The firing rule that inhibits `rule`, if any. */
export function inhibitorOf(rule: RuleCode, firing: ReadonlySet<RuleCode>): RuleCode | null {
  for (const [inhibitor, targets] of Object.entries(inhibitors) as [RuleCode, readonly RuleCode[]][]) {
    if (inhibitor !== rule && firing.has(inhibitor) && targets.includes(rule)) return inhibitor;
  }
  return null;
}

export function isSilenceActive(s: Silence, now: number): boolean {
  return s.endedAt === null && s.expiresAt > now;
}

/** Does `silence` name this identity? Silences name an identity as typed by a person: name, key or target id. */
export function silenceMatchesIdentity(silence: Silence, identity: { key: string; name: string }): boolean {
  if (silence.identity === null) return false;
  const want = silence.identity.toLowerCase();
  const key = identity.key.toLowerCase();
  return (
    want === identity.name.toLowerCase() ||
    want === key ||
    key.endsWith(`:${want}`) ||
    key.endsWith(`:#${want}`)
  );
}

/** The active silence muting this incident as a whole, if any. */
export function silenceFor(
  incident: Pick<Incident, 'rule' | 'scope'>,
  silences: Silence[],
  now: number,
): Silence | null {
  for (const s of silences) {
    if (!isSilenceActive(s, now) || s.rule !== incident.rule) continue;
    if (s.identity === null) return s;
    if (incident.scope.startsWith('identity:')) {
      const key = incident.scope.slice('identity:'.length);
      if (silenceMatchesIdentity(s, { key, name: key })) return s;
    }
  }
  return null;
}

export type MuteReason = { by: 'silence'; silence: Silence } | { by: 'inhibition'; rule: RuleCode } | null;

/**
 * The firing root cause that mutes this incident, if any. A resolved incident is never inhibited (closing the loop
 * on an email already sent is not noise).
 */
export function inhibitionOf(
  incident: Pick<Incident, 'rule' | 'state' | 'inhibitedBy' | 'evidence'>,
  firing: ReadonlySet<RuleCode>,
): RuleCode | null {
  if (incident.state === 'resolved') return null;
  const inhibitor = inhibitorOf(incident.rule, firing);
  if (inhibitor) return inhibitor;
  // As in Alertmanager, inhibition lasts only while the inhibitor fires: an incident still firing when its
  // inhibitor clears is news (the root cause is fixed and this one is not), so it notifies on the next tick.
  // One exception: when every sample failure is the inhibitor's own kind (a cycle failed by 401s after the
  // token is fixed), the email would retell what the inhibitor's emails already said.
  const by = incident.inhibitedBy;
  const samples = incident.evidence.samples;
  if (by && samples.length > 0 && samples.every((sample) => explainedBy(by, sample))) return by;
  return null;
}

/** Both mute stages at once (alertmanager's inhibit and silence): what mutes the incident, if anything. */
export function muteReason(
  incident: Pick<Incident, 'rule' | 'scope' | 'state' | 'inhibitedBy' | 'evidence'>,
  firing: ReadonlySet<RuleCode>,
  silences: Silence[],
  now: number,
): MuteReason {
  const silence = silenceFor(incident, silences, now);
  if (silence) return { by: 'silence', silence };
  const rule = inhibitionOf(incident, firing);
  return rule ? { by: 'inhibition', rule } : null;
}
