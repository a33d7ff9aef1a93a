import type { RulesConfig } from '../config.js';
import type { RuleCode } from '../detect/types.js';
import { inhibitionOf, inhibitorOf, shouldNotify, silenceFor } from './decide.js';
import type { Incident, NotifyReason, SentNotification, Silence } from './types.js';

/**
 * The notification pipeline for one incident after an evaluation, as in Alertmanager (STYLE, prometheus/
 * alertmanager `notify/`): inhibit → silence → dedupe → queue. Each stage is a function of the incident and
 * the evaluation's context; the first three are pure and either stop the incident with a named reason or pass
 * it on. Only `queue` writes (the outbox row), through the port the engine gives it.
 */
export interface NotifyContext {
  now: number;
  rules: Pick<RulesConfig, 'reminderHours'>;
  /** rules with a firing incident after this evaluation */
  firing: ReadonlySet<RuleCode>;
  silences: Silence[];
  /** the last notification queued for an incident (read lazily: most incidents stop before dedupe) */
  lastSent(incidentId: number): SentNotification | null;
}

export type Stopped =
  | { stage: 'inhibit'; by: RuleCode }
  | { stage: 'silence'; silence: Silence }
  | { stage: 'dedupe' };

export type NotifyDecision = Stopped | { stage: 'queue'; reason: Exclude<NotifyReason, 'none'> };

type Stored = Incident & { id: number };

/** A firing root cause (credentials, app down, broken filters) mutes the rules it explains. */
export function inhibit(incident: Stored, ctx: NotifyContext): Stopped | null {
  const by = inhibitionOf(incident, ctx.firing);
  return by ? { stage: 'inhibit', by } : null;
}

/** A person said to keep quiet about this rule (or this identity) for a while. */
export function silence(incident: Stored, ctx: NotifyContext): Stopped | null {
  const s = silenceFor(incident, ctx.silences, ctx.now);
  return s ? { stage: 'silence', silence: s } : null;
}

/** Something new to say, given what was already queued (first, reason changed, reminder, resolved)? */
export function dedupe(incident: Stored, ctx: NotifyContext): NotifyDecision {
  const reason = shouldNotify(incident, ctx.lastSent(incident.id), ctx.now, ctx.rules);
  return reason === 'none' ? { stage: 'dedupe' } : { stage: 'queue', reason };
}

/** The three deciding stages in order: where the incident stopped, or why it goes to the queue. */
export function notifyDecision(incident: Stored, ctx: NotifyContext): NotifyDecision {
  return inhibit(incident, ctx) ?? silence(incident, ctx) ?? dedupe(incident, ctx);
}

/**
 * Records on a firing incident which root cause inhibits it now (shown on the dashboard, and remembered so
 * that a later email does not retell what the inhibitor's email said).
 */
export function markInhibition(incident: Incident, firing: ReadonlySet<RuleCode>, now: number): void {
  if (incident.state !== 'firing') return;
  const by = inhibitorOf(incident.rule, firing);
  if (by) {
    incident.inhibitedBy = by;
    incident.inhibitedAt = now;
  }
}

/** The queue stage's port: writes one decision to the outbox for every receiver it routes to. */
export type QueueStage = (incident: Stored, reason: Exclude<NotifyReason, 'none'>, now: number) => boolean;
