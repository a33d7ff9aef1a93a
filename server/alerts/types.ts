import type { EntraReason, Evidence, RuleCode, Scope, Severity } from '../detect/types.js';

export type IncidentState = 'pending' | 'firing' | 'resolved';

export interface Incident {
  /** null until first stored */
  id: number | null;
  /** rule + ':' + scope: at most one open incident per key */
  key: string;
  rule: RuleCode;
  scope: Scope;
  severity: Severity;
  state: IncidentState;
  entraReason: EntraReason | null;
  summary: string;
  reasonKey: string;
  evidence: Evidence;
  startedAt: number;
  firedAt: number | null;
  lastTrueAt: number;
  clearedAt: number | null;
  resolvedAt: number | null;
  acknowledgedAt: number | null;
  acknowledgedBy: string | null;
  ackComment: string | null;
  inhibitedBy: RuleCode | null;
  inhibitedAt: number | null;
  updatedAt: number;
}

/** Why an email goes out (STYLE §8): the outbox row and the email text record it. */
export type NotifyReason = 'first' | 'reasonChanged' | 'reminder' | 'resolved' | 'none';
/** `acknowledged`: told to the receivers that track it (PagerDuty), never emailed. */
export type NotifyEvent = Exclude<NotifyReason, 'none'> | 'test' | 'acknowledged';

/** The last email queued for an incident (queued, not necessarily delivered: reminders count from queueing). */
export interface SentNotification {
  event: NotifyEvent;
  reasonKey: string | null;
  createdAt: number;
}

export interface Silence {
  id: number;
  rule: RuleCode;
  /** null: the whole rule */
  identity: string | null;
  comment: string;
  createdBy: string;
  createdAt: number;
  expiresAt: number;
  endedAt: number | null;
}

export function incidentKey(rule: RuleCode, scope: Scope): string {
  return `${rule}:${scope}`;
}
