import type { Incident, NotifyEvent } from '../../alerts/types.js';
import { adviceFor } from '../advice.js';
import { type EmailContext, isoMinute, oneLine, subjectFor } from '../email.js';

/**
 * What every chat and paging message says, taken from the same advice as the email (ARCHITECTURE §6): severity,
 * app, what fails, since when, how many calls, the Entra reason it resembles, what to do, the incident's link.
 * Every captured value is one line and bounded; each receiver escapes it for its own format.
 */
export interface IncidentFacts {
  /** the email's subject: `[FIRING critical] App: summary` */
  title: string;
  state: 'firing' | 'resolved' | 'acknowledged' | 'test';
  severity: string;
  app: string;
  rule: string;
  summary: string;
  whatFails: string;
  since: string;
  /** ISO 8601, for machine formats */
  sinceIso: string;
  calls: number;
  entraReason: string | null;
  entra: string;
  actions: string[];
  acknowledgedBy: string | null;
  incidentUrl: string;
  incidentId: number;
}

export function incidentFacts(incident: Incident, event: NotifyEvent, ctx: EmailContext): IncidentFacts {
  if (incident.id === null)
    throw new Error('incidentFacts: the incident must be stored first (links need its id)');
  const advice = adviceFor(incident);
  const since = incident.firedAt ?? incident.startedAt;
  const state = event === 'resolved' ? 'resolved' : event === 'acknowledged' ? 'acknowledged' : 'firing';
  return {
    title: subjectFor(incident, event, ctx.appName),
    state,
    severity: incident.severity,
    app: oneLine(ctx.appName, 120),
    rule: incident.rule,
    summary: oneLine(incident.summary, 400),
    whatFails: oneLine(advice.title, 300),
    since: isoMinute(since),
    sinceIso: new Date(since).toISOString(),
    calls: incident.evidence.count,
    entraReason: incident.entraReason,
    entra: oneLine(advice.entra, 600),
    actions: advice.action.map((a) => oneLine(a, 600)),
    acknowledgedBy: incident.acknowledgedBy ? oneLine(incident.acknowledgedBy, 80) : null,
    incidentUrl: `${ctx.baseUrl}/incidents/${incident.id}`,
    incidentId: incident.id,
  };
}

/** Cut to `max` characters (by code point), with an ellipsis when cut. */
export function clip(s: string, max: number): string {
  const chars = [...s];
  return chars.length > max ? `${chars.slice(0, max - 1).join('')}…` : s;
}

export function testTitle(ctx: EmailContext): string {
  return oneLine(`[TEST] ${ctx.appName}: scimtap notification test`, 300);
}

export function testText(now: number, requestedBy: string | null): string {
  const who = requestedBy ? ` by ${oneLine(requestedBy, 80)}` : '';
  return `This test was queued at ${isoMinute(now)}${who}. If you read it, scimtap's notifications reach you.`;
}
