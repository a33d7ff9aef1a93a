import type { Incident, NotifyEvent } from '../alerts/types.js';
import type { OperationSample } from '../detect/types.js';
import { type Advice, adviceFor } from './advice.js';

export interface EmailContext {
  appName: string;
  /** dashboard base URL (an app's pages, with several apps), no trailing slash */
  baseUrl: string;
  /** with several apps: the admin API's URL and the app's id, for the silence command */
  api?: { url: string; app: string };
  /** an admin token protects the API: the curl example then carries a placeholder header */
  adminTokenSet: boolean;
  /** the upstream's base path (e.g. `/scim/v2`), for advice about the Tenant URL's path */
  upstreamPath?: string;
}

export interface RenderedEmail {
  subject: string;
  text: string;
  html: string;
}

/**
 * Every inline style the emails carry (mail clients drop `<style>` blocks, so styles go inline). The dashboard's
 * CSP allows exactly these, by hash (server/api/guard.ts), so the email viewer shows the email as sent.
 */
export const emailStyles = {
  body: 'font-family:system-ui,-apple-system,Segoe UI,sans-serif;font-size:14px;color:#1b1f24',
  title: 'margin:0 0 8px',
  samples: 'border-collapse:collapse;font-family:ui-monospace,monospace;font-size:12px',
  note: 'color:#57606a;font-size:12px',
  pre: 'white-space:pre-wrap',
  signature: 'color:#57606a',
  testBody: 'font-family:system-ui,sans-serif',
} as const;

export function escapeHtml(value: unknown): string {
  return String(value ?? '').replace(
    /[&<>"'`]/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' })[c]!,
  );
}

/** One line, no control characters: captured text never breaks a header or a line of the text body. */
export function oneLine(value: unknown, max = 300): string {
  let s = '';
  for (const ch of String(value ?? '')) {
    const c = ch.codePointAt(0)!;
    const control = c < 0x20 || c === 0x7f || c === 0x2028 || c === 0x2029;
    if (!control) s += ch;
    else if (!s.endsWith(' ')) s += ' ';
  }
  s = s.trim();
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

export function isoMinute(ms: number | null): string {
  if (ms === null) return 'unknown';
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

function isoSecond(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

const stateWord: Record<NotifyEvent, string> = {
  first: 'FIRING',
  reasonChanged: 'FIRING',
  reminder: 'FIRING',
  resolved: 'RESOLVED',
  acknowledged: 'ACKNOWLEDGED',
  test: 'TEST',
};

export function subjectFor(incident: Incident, event: NotifyEvent, appName: string): string {
  const suffix = event === 'reminder' ? ' (reminder)' : event === 'reasonChanged' ? ' (changed)' : '';
  return oneLine(`[${stateWord[event]} ${incident.severity}] ${appName}: ${incident.summary}${suffix}`, 400);
}

function sampleLine(s: OperationSample): string {
  const path = s.query ? `${s.path}?${s.query}` : s.path;
  const status = s.httpStatus === null ? 'no answer' : String(s.httpStatus);
  const detail = [s.errorCode, s.reason].filter(Boolean).join(': ');
  return oneLine(
    `${isoSecond(s.time)}  ${s.httpMethod} ${path}  ${status}${detail ? `  ${detail}` : ''}`,
    600,
  );
}

function lead(incident: Incident, event: NotifyEvent, now: number): string {
  switch (event) {
    case 'resolved':
      return `Resolved at ${isoMinute(incident.resolvedAt ?? now)}. It had been firing since ${isoMinute(incident.firedAt ?? incident.startedAt)}.`;
    case 'reminder':
      return `Reminder: still firing since ${isoMinute(incident.firedAt ?? incident.startedAt)}, and nobody has acknowledged it.`;
    case 'reasonChanged':
      return `Update: the reason changed. Firing since ${isoMinute(incident.firedAt ?? incident.startedAt)}.`;
    default: {
      const since = `Firing since ${isoMinute(incident.firedAt ?? incident.startedAt)}.`;
      // Said when it was held back: the reader should know why this email comes later than the failures.
      return incident.inhibitedBy && incident.inhibitedAt !== null
        ? `${since} Held back while ${incident.inhibitedBy} fired (until ${isoMinute(incident.inhibitedAt)}); that has cleared and this still holds.`
        : since;
    }
  }
}

function silenceCurl(ctx: EmailContext, incident: Incident): string {
  const auth = ctx.adminTokenSet ? " -H 'Authorization: Bearer <admin token>'" : '';
  const body = JSON.stringify({ rule: incident.rule, durationMinutes: 240, comment: 'known, working on it' });
  const url = ctx.api ? `${ctx.api.url}/silences?app=${ctx.api.app}` : `${ctx.baseUrl}/api/silences`;
  return `curl -X POST ${url}${auth} -H 'content-type: application/json' -d '${body}'`;
}

/** The email for one incident event (ARCHITECTURE §6): text and HTML say the same; HTML escapes every captured value. */
export function renderIncidentEmail(
  incident: Incident,
  event: NotifyEvent,
  ctx: EmailContext,
  now: number,
): RenderedEmail {
  if (incident.id === null)
    throw new Error('renderIncidentEmail: the incident must be stored first (links need its id)');
  const parts = incidentEmailParts(incident, event, ctx, now);
  return { subject: parts.subject, text: incidentText(parts), html: incidentHtml(parts) };
}

/** What the text and the HTML both say, worked out once. */
interface IncidentEmailParts {
  incident: Incident;
  event: NotifyEvent;
  subject: string;
  lead: string;
  /** what is failing and how often */
  what: string;
  entraLine: string;
  samplesTitle: string;
  identitiesShown: Incident['evidence']['identities'];
  identitiesTitle: string;
  advice: Advice;
  incidentUrl: string;
  links: { label: string; url: string }[];
  silenceCurl: string;
}

function incidentEmailParts(
  incident: Incident,
  event: NotifyEvent,
  ctx: EmailContext,
  now: number,
): IncidentEmailParts {
  const advice = adviceFor(incident, { upstreamPath: ctx.upstreamPath });
  const e = incident.evidence;
  const incidentUrl = `${ctx.baseUrl}/incidents/${incident.id}`;
  const links = [{ label: `Incident #${incident.id}`, url: incidentUrl }].concat(
    advice.links.map((l) => ({ label: l.label, url: `${ctx.baseUrl}${l.path}` })),
  );
  const since = e.firstSeen ?? incident.startedAt;
  const what = `${advice.title}: ${e.count.toLocaleString('en-US')} ${e.count === 1 ? 'occurrence' : 'occurrences'}, first ${isoMinute(since)}, last ${isoMinute(e.lastSeen)}.`;
  const entraLine = incident.entraReason
    ? `Resembles Entra's ${incident.entraReason}. ${advice.entra}`
    : advice.entra;
  const identitiesShown = e.identities.slice(0, 20);
  return {
    incident,
    event,
    subject: subjectFor(incident, event, ctx.appName),
    lead: lead(incident, event, now),
    what,
    entraLine,
    samplesTitle: event === 'resolved' ? 'Last sample requests' : 'Sample requests',
    identitiesShown,
    identitiesTitle: `Affected identities (${e.identityCount}${e.identityCount > identitiesShown.length ? `, first ${identitiesShown.length} shown` : ''})`,
    advice,
    incidentUrl,
    links,
    silenceCurl: silenceCurl(ctx, incident),
  };
}

function identityLine(i: Incident['evidence']['identities'][number]): string {
  return oneLine(
    `${i.name}${i.type ? ` (${i.type})` : ''}${i.streak ? `, failing ${i.streak} cycles` : ''}${i.errorCode ? ` — ${i.errorCode}` : ''}${i.reason ? `: ${i.reason}` : ''}`,
    300,
  );
}

function incidentText(p: IncidentEmailParts): string {
  const { incident, event, advice, identitiesShown } = p;
  const e = incident.evidence;
  const silenceText = [
    `Acknowledge (stops reminders) or silence it from the incident page: ${p.incidentUrl}`,
    `Or silence the rule for 4 hours: ${p.silenceCurl}`,
  ];
  return [
    p.subject,
    '',
    p.lead,
    `Incident #${incident.id} · rule ${incident.rule} · ${incident.severity}${incident.acknowledgedBy ? ` · acknowledged by ${oneLine(incident.acknowledgedBy, 80)}` : ''}`,
    '',
    'What is failing',
    `  ${p.what}`,
    `  ${p.entraLine}`,
    ...(e.samples.length
      ? [
          '',
          `${p.samplesTitle} (method, path, status, error; never bodies or credentials)`,
          ...e.samples.map((s) => `  ${sampleLine(s)}`),
        ]
      : []),
    ...(identitiesShown.length
      ? ['', p.identitiesTitle, ...identitiesShown.map((i) => `  ${identityLine(i)}`)]
      : []),
    ...(event === 'resolved'
      ? []
      : [
          '',
          'Likely cause',
          ...advice.cause.map((c) => `  ${c}`),
          '',
          'What to do',
          ...advice.action.map((a) => `  - ${a}`),
        ]),
    '',
    'Links',
    ...p.links.map((l) => `  ${l.label}: ${l.url}`),
    ...(event === 'resolved' ? [] : ['', 'Silence', ...silenceText.map((s) => `  ${s}`)]),
    '',
    '— scimtap, watching SCIM provisioning',
    '',
  ].join('\n');
}

const li = (items: string[]) => `<ul>${items.map((x) => `<li>${x}</li>`).join('')}</ul>`;

function incidentHtml(p: IncidentEmailParts): string {
  const { incident, event, advice, identitiesShown } = p;
  return [
    `<!doctype html><html><body style="${emailStyles.body}">`,
    `<h2 style="${emailStyles.title}">${escapeHtml(p.subject)}</h2>`,
    `<p>${escapeHtml(p.lead)}<br>Incident #${incident.id} · rule <code>${escapeHtml(incident.rule)}</code> · ${escapeHtml(incident.severity)}${incident.acknowledgedBy ? ` · acknowledged by ${escapeHtml(incident.acknowledgedBy)}` : ''}</p>`,
    '<h3>What is failing</h3>',
    `<p>${escapeHtml(p.what)}<br>${escapeHtml(p.entraLine)}</p>`,
    samplesHtml(p.samplesTitle, incident.evidence.samples),
    identitiesShown.length
      ? `<h3>${p.identitiesTitle}</h3>${li(identitiesShown.map((i) => escapeHtml(identityLine(i))))}`
      : '',
    event === 'resolved'
      ? ''
      : `<h3>Likely cause</h3>${advice.cause.map((c) => `<p>${escapeHtml(c)}</p>`).join('')}<h3>What to do</h3>${li(advice.action.map(escapeHtml))}`,
    `<h3>Links</h3>${li(p.links.map((l) => `<a href="${escapeHtml(l.url)}">${escapeHtml(l.label)}</a>`))}`,
    event === 'resolved'
      ? ''
      : `<h3>Silence</h3><p>Acknowledge (stops reminders) or silence it from the <a href="${escapeHtml(p.incidentUrl)}">incident page</a>, or silence the rule for 4 hours:</p><pre style="${emailStyles.pre}">${escapeHtml(p.silenceCurl)}</pre>`,
    `<p style="${emailStyles.signature}">— scimtap, watching SCIM provisioning</p>`,
    '</body></html>',
  ].join('\n');
}

function samplesHtml(title: string, samples: OperationSample[]): string {
  if (!samples.length) return '';
  return (
    `<h3>${escapeHtml(title)}</h3><table cellpadding="4" style="${emailStyles.samples}">` +
    '<tr><th align="left">time</th><th align="left">request</th><th align="left">status</th><th align="left">error</th></tr>' +
    samples
      .map(
        (s) =>
          `<tr><td>${escapeHtml(isoSecond(s.time))}</td><td>${escapeHtml(oneLine(`${s.httpMethod} ${s.query ? `${s.path}?${s.query}` : s.path}`, 400))}</td><td>${escapeHtml(s.httpStatus ?? 'no answer')}</td><td>${escapeHtml(oneLine([s.errorCode, s.reason].filter(Boolean).join(': '), 300))}</td></tr>`,
      )
      .join('') +
    `</table><p style="${emailStyles.note}">Never bodies or credentials.</p>`
  );
}

export function renderTestEmail(ctx: EmailContext, now: number, requestedBy: string | null): RenderedEmail {
  const subject = oneLine(`[TEST] ${ctx.appName}: scimtap notification test`, 300);
  const who = requestedBy ? ` by ${oneLine(requestedBy, 80)}` : '';
  const text = `${subject}\n\nThis test email was queued at ${isoMinute(now)}${who}. If you read it, scimtap's notifications reach you.\n\nDashboard: ${ctx.baseUrl}/\n`;
  const html = `<!doctype html><html><body style="${emailStyles.testBody}"><h2>${escapeHtml(subject)}</h2><p>This test email was queued at ${escapeHtml(isoMinute(now))}${escapeHtml(who)}. If you read it, scimtap's notifications reach you.</p><p><a href="${escapeHtml(`${ctx.baseUrl}/`)}">Dashboard</a></p></body></html>`;
  return { subject, text, html };
}
