import { existsSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { rootCertificates } from 'node:tls';
import nodemailer from 'nodemailer';
import { sameDbFile } from './config/apps.js';
import { probeDatabase } from './store/open.js';

// What scimtap checks and says once it is up (issue: "proxy mode says nothing"). The checks report; they never
// stop scimtap from starting, because forwarding must work even while the app or the mail server is down.

export interface CheckResult {
  ok: boolean;
  /** one line a person can act on */
  detail: string;
}

/**
 * One GET of the upstream's `/ServiceProviderConfig`, without credentials: any HTTP answer proves the app is
 * reachable (401 is expected from apps that protect it); a network or TLS error names what is wrong.
 */
export function checkUpstream(
  upstream: string,
  { ca, timeoutMs = 5_000 }: { ca?: string; timeoutMs?: number } = {},
): Promise<CheckResult> {
  return new Promise((resolve) => {
    let url: URL;
    try {
      url = new URL(`${upstream.replace(/\/+$/, '')}/ServiceProviderConfig`);
    } catch (err) {
      resolve({ ok: false, detail: `not a URL: ${(err as Error).message}` });
      return;
    }
    const secure = url.protocol === 'https:';
    const request = secure ? https.request : http.request;
    const req = request(url, {
      method: 'GET',
      headers: { accept: 'application/scim+json', 'user-agent': 'scimtap-startup-check' },
      timeout: timeoutMs,
      ...(secure && ca ? { ca: [...rootCertificates, ca] } : {}),
    });
    req.on('response', (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      const how =
        status < 400
          ? 'answers'
          : status === 401 || status === 403
            ? 'answers (it wants credentials, as expected without Entra’s token)'
            : 'answers with an error';
      resolve({ ok: status < 500, detail: `reachable: ${how}: HTTP ${status} on GET ${url.pathname}` });
    });
    req.on('timeout', () => {
      req.destroy();
      resolve({ ok: false, detail: `no answer within ${timeoutMs} ms from ${url.host}` });
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      resolve({ ok: false, detail: `unreachable: ${err.code ? `${err.code} ` : ''}${err.message}` });
    });
    req.end();
  });
}

/** nodemailer's `verify()`: connects, says EHLO and logs in, sends nothing. */
export async function checkSmtp(smtpUrl: string | undefined, timeoutMs = 10_000): Promise<CheckResult> {
  if (!smtpUrl) return { ok: true, detail: 'not configured: emails wait in the outbox (Incidents page)' };
  const transport = nodemailer.createTransport({
    url: smtpUrl,
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
  } as Parameters<typeof nodemailer.createTransport>[0]);
  try {
    await transport.verify();
    return { ok: true, detail: `verified: ${hostOf(smtpUrl)} accepts the login` };
  } catch (err) {
    return {
      ok: false,
      detail: `${hostOf(smtpUrl)}: ${withoutCredentials((err as Error).message, smtpUrl)}`,
    };
  } finally {
    transport.close();
  }
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'the SMTP server';
  }
}

/** A server's error text may quote the login it refused: never repeat the URL's user or password. */
function withoutCredentials(text: string, url: string): string {
  let out = text;
  try {
    const u = new URL(url);
    for (const part of [u.password, u.username]) {
      if (!part) continue;
      for (const form of new Set([part, decodeURIComponent(part)])) {
        if (form.length >= 3) out = out.split(form).join('[redacted]');
      }
    }
  } catch {}
  return out;
}

/** One app as the startup banner and log line tell it. */
export interface StartupApp {
  name: string;
  /** what Entra's Tenant URL points at (this listener; in Entra, its public HTTPS URL) */
  tenantUrl: string;
  upstream: string;
  db: string;
  notifyTo: string[];
  upstreamCheck: CheckResult;
}

export interface StartupFacts {
  version: string;
  mode: 'proxy' | 'demo';
  adminUrl: string;
  apps: StartupApp[];
  smtpCheck: CheckResult;
}

const mark = (c: CheckResult) => `${c.ok ? 'ok' : 'PROBLEM'}: ${c.detail}`;

/** What a person at a terminal reads once scimtap is up; the same facts go to the log as one structured line. */
export function startupBanner(f: StartupFacts): string {
  const what = f.apps.length === 1 ? `${f.apps[0].name}'s` : `${f.apps.length} apps'`;
  const lines = ['', `  scimtap ${f.version} is forwarding ${what} SCIM traffic`, ''];
  for (const app of f.apps) {
    if (f.apps.length > 1) lines.push(`  ${app.name}`);
    lines.push(
      `  Proxy (Entra's Tenant URL)   ${app.tenantUrl}   (in Entra: this host's public HTTPS URL)`,
      `  Upstream (the app)           ${app.upstream}`,
      `  Database                     ${app.db}`,
      `  Notifications to             ${app.notifyTo.length ? app.notifyTo.join(', ') : 'nobody (SCIMTAP_NOTIFY_TO unset)'}`,
      `  Upstream check               ${mark(app.upstreamCheck)}`,
      '',
    );
  }
  lines.push(
    `  Dashboard                    ${f.adminUrl}`,
    `  Email check                  ${mark(f.smtpCheck)}`,
    '',
  );
  return lines.join('\n');
}

/**
 * With an `apps` list, SCIMTAP_DB (`db`) is the file scimtap recorded into while it ran one app; an app of a list
 * of several records into a file of its own, so moving an app into a list leaves that history unread. What to
 * tell the operator when that file holds operations and no app (`apps`: each app's file) records into it, or
 * null. A file that cannot be read as a database is not this check's to report.
 */
export function unusedHistoryWarning(db: string, apps: { id: string; db: string }[]): string | null {
  if (db === ':memory:' || apps.some((app) => sameDbFile(app.db, db)) || !existsSync(db)) return null;
  try {
    if (!probeDatabase(db).recorded) return null;
  } catch {
    return null;
  }
  const shown = apps.slice(0, 3).map((app) => `${app.id} into ${app.db}`);
  if (apps.length > shown.length) shown.push(`and ${apps.length - shown.length} more`);
  const entry = apps.length === 1 ? `app "${apps[0].id}"'s entry` : "that app's entry";
  return `${db} (SCIMTAP_DB) holds the operations scimtap recorded while it ran one app, but no app of the \`apps\` list records into it (${shown.join(', ')}). To keep that history, add this line to ${entry} in the \`apps\` list, then reload (SIGHUP) or restart: "db": ${JSON.stringify(db)}`;
}
