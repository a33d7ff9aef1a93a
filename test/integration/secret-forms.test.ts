import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import zlib from 'node:zlib';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Received, send, startUpstream } from '../helpers/http.js';
import { startTestScimtap } from '../helpers/scimtap.js';
import { startSmtp, type TestSmtp } from '../helpers/smtp.js';
import { until } from '../reliability/lib.js';

// Issue 10 item 5: secrets stay out of everything scimtap keeps and sends, in the escaped forms apps really echo
// them in. A real scimtap, a real SMTP server, and an upstream that echoes every secret it was given in every
// form: raw, JSON-escaped (`\/`, `\u002B`, every character as \uXXXX), HTML-escaped (decimal, hex, named),
// URL-encoded (%2B, + for space) and base64 (standard, url-safe), as a SCIM error, an HTML page, a gzipped or a
// UTF-16 body.

const rnd = () => randomBytes(9).toString('hex');
// `+`, `/` and `=`: the characters the escapers touch
const TOKEN = `tok+en/${rnd()}=`;
const BASIC_USER = `scim-user-${rnd()}`;
const BASIC_PASS = `Pw+basic/${rnd()}`;
const PW = {
  numeric: String(10_000_000_000 + Math.floor(Math.random() * 1e9)),
  gzipBody: `Pw+gzip/${rnd()}`,
  utf16Body: `Pw+utf16/${rnd()}`,
  formBody: `Pw+form ${rnd()}`,
  overLimit: `Pw+long/${rnd()}`,
  queryToken: `qtok+${rnd()}/x`,
  filter: `Pw+filter/${rnd()}`,
};
const SECRETS: Record<string, string> = { TOKEN, BASIC_PASS, ...PW };
const CAPTURE_LIMIT = 4_096;

const html = (s: string, f: (cp: number) => string) =>
  [...s].map((ch) => (/[A-Za-z0-9]/.test(ch) ? ch : f(ch.codePointAt(0)!))).join('');
/** Every form a secret is echoed in, each safe inside a JSON string. */
const FORMS: Record<string, (s: string) => string> = {
  raw: (s) => s,
  jsonSlash: (s) => s.replace(/\//g, '\\/').replace(/\+/g, '\\u002B'),
  jsonAll: (s) => [...s].map((ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`).join(''),
  htmlDecimal: (s) => html(s, (cp) => `&#${cp};`),
  htmlHex: (s) => html(s, (cp) => `&#x${cp.toString(16).toUpperCase()};`),
  htmlNamed: (s) => s.replace(/\+/g, '&plus;').replace(/\//g, '&sol;').replace(/=/g, '&equals;'),
  urlEncoded: (s) => encodeURIComponent(s),
  formEncoded: (s) => new URLSearchParams({ x: s }).toString().slice(2),
  base64: (s) => Buffer.from(s).toString('base64'),
  base64url: (s) => Buffer.from(s).toString('base64url'),
  base64Basic: (s) => Buffer.from(`someone:${s}`).toString('base64'),
};
const echo = (secrets: string[]) =>
  secrets.flatMap((s) => Object.entries(FORMS).map(([name, f]) => `${name}=${f(s)}`)).join(' ');

/** What the careless app was given: the credential, and passwords in the body, the query and a filter. */
function presented(r: Received): string[] {
  const out: string[] = [];
  const auth = String(r.headers.authorization ?? '');
  if (auth.startsWith('Bearer ')) out.push(auth.slice(7));
  if (auth.startsWith('Basic ')) {
    const decoded = Buffer.from(auth.slice(6), 'base64').toString();
    out.push(decoded, decoded.slice(decoded.indexOf(':') + 1));
  }
  const url = new URL(r.url, 'http://x');
  const qt = url.searchParams.get('access_token');
  if (qt) out.push(qt);
  const filter = /password eq "([^"]*)"/.exec(url.searchParams.get('filter') ?? '');
  if (filter) out.push(filter[1]);
  let body = r.body;
  if (r.headers['content-encoding'] === 'gzip') body = zlib.gunzipSync(body);
  let text = body.toString('utf8');
  if (body[0] === 0xff && body[1] === 0xfe) text = body.subarray(2).toString('utf16le');
  if (String(r.headers['content-type']).startsWith('application/x-www-form-urlencoded')) {
    const pw = new URLSearchParams(text).get('password');
    if (pw) out.push(pw);
  } else if (text) {
    try {
      const pw = JSON.parse(text).password;
      if (pw !== undefined) out.push(String(pw));
    } catch {}
  }
  return out;
}

function carelessApp(r: Received, res: http.ServerResponse) {
  const words = echo(presented(r));
  const as = String(r.headers['x-echo-as'] ?? 'scim');
  const status = Number(r.headers['x-echo-status'] ?? 400);
  if (as === 'html') {
    res.writeHead(status, { 'content-type': 'text/html' });
    return res.end(`<html><body><p>We could not process ${words}</p></body></html>`);
  }
  if (as === 'gzipList') {
    // a compliant answer to a filter query, gzipped, with the secrets in an extension attribute
    const list = `{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":0,"Resources":[],"urn:example:echo":"${words}"}`;
    res.writeHead(200, { 'content-type': 'application/scim+json', 'content-encoding': 'gzip' });
    return res.end(zlib.gzipSync(list));
  }
  const error = `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"${status}","detail":"cannot use ${words}"}`;
  if (as === 'utf16') {
    res.writeHead(status, { 'content-type': 'application/scim+json; charset=utf-16' });
    return res.end(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(error, 'utf16le')]));
  }
  res.writeHead(status, { 'content-type': 'application/scim+json' });
  res.end(error);
}

/** Every form of every secret that a leak check looks for (the base64 ones aligned as the app wrote them). */
function leaks(text: string | Buffer): string[] {
  const hay = typeof text === 'string' ? Buffer.from(text) : text;
  const found: string[] = [];
  for (const [name, secret] of Object.entries(SECRETS)) {
    for (const [form, f] of Object.entries(FORMS)) {
      const needle = f(secret);
      if (hay.includes(needle)) found.push(`${name} as ${form}`);
      // the JSON-escaped forms as they read once stored inside another JSON string (`\\/`)
      if (needle.includes('\\') && hay.includes(JSON.stringify(needle).slice(1, -1)))
        found.push(`${name} as ${form}, re-escaped`);
    }
  }
  return found;
}

let upstream: Awaited<ReturnType<typeof startUpstream>>;
let smtp: TestSmtp;
let scimtap: Awaited<ReturnType<typeof startTestScimtap>>;

const proxy = (
  path: string,
  {
    method = 'GET',
    headers = {} as Record<string, string>,
    body = undefined as Buffer | string | undefined,
    auth = `Bearer ${TOKEN}`,
  } = {},
) =>
  send(`${scimtap.proxyUrl}/scim/v2${path}`, { method, headers: { authorization: auth, ...headers }, body });
const admin = async (path: string, init: { method?: string; body?: string } = {}) =>
  (
    await send(`${scimtap.adminUrl}${path}`, {
      method: init.method ?? 'GET',
      body: init.body,
      headers: init.body ? { 'content-type': 'application/json' } : {},
    })
  ).body.toString();

beforeAll(async () => {
  upstream = await startUpstream(carelessApp);
  smtp = await startSmtp();
  scimtap = await startTestScimtap(upstream.url, {
    SCIMTAP_NOTIFY_TO: 'ops@example.com',
    SCIMTAP_SMTP_URL: smtp.url,
    SCIMTAP_CAPTURE_LIMIT_BYTES: String(CAPTURE_LIMIT),
  });
});

afterAll(async () => {
  await scimtap?.stop();
  await upstream?.close();
  await smtp?.close();
});

describe('secrets echoed in every form never reach the database, the API, the CSV or the emails', () => {
  let api = '';
  let csv = '';
  let ops: Array<{ id: number; path: string; query: string; status: string; errorCode: string | null }> = [];

  beforeAll(async () => {
    const json = { 'content-type': 'application/scim+json' };
    // the bearer token, echoed in an error detail, an HTML page and a UTF-16 body: three 401s fire `credentials`
    await proxy('/Users/a1', { headers: { 'x-echo-status': '401' } });
    await proxy('/Users/a2', { headers: { 'x-echo-status': '401', 'x-echo-as': 'html' } });
    await proxy('/Users/a3', { headers: { 'x-echo-status': '401', 'x-echo-as': 'utf16' } });
    // Basic credentials
    await proxy('/Users/b1', {
      auth: `Basic ${Buffer.from(`${BASIC_USER}:${BASIC_PASS}`).toString('base64')}`,
      headers: { 'x-echo-status': '401' },
    });
    // a numeric password
    await proxy('/Users', {
      method: 'POST',
      headers: json,
      body: `{"userName":"numeric@example.com","password":${PW.numeric}}`,
    });
    // a gzipped request body
    await proxy('/Users', {
      method: 'POST',
      headers: { ...json, 'content-encoding': 'gzip', 'x-echo-as': 'html' },
      body: zlib.gzipSync(JSON.stringify({ userName: 'gzip@example.com', password: PW.gzipBody })),
    });
    // a UTF-16 request body
    await proxy('/Users', {
      method: 'POST',
      headers: { 'content-type': 'application/scim+json; charset=utf-16' },
      body: Buffer.concat([
        Buffer.from([0xff, 0xfe]),
        Buffer.from(JSON.stringify({ userName: 'utf16@example.com', password: PW.utf16Body }), 'utf16le'),
      ]),
    });
    // a form-encoded body
    await proxy('/Users', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ userName: 'form@example.com', password: PW.formBody }).toString(),
    });
    // a body five times the capture limit, the password at its end: the recorded copy stops long before it
    await proxy('/Users', {
      method: 'POST',
      headers: json,
      body: JSON.stringify({
        userName: 'long@example.com',
        displayName: 'd'.repeat(CAPTURE_LIMIT * 5),
        password: PW.overLimit,
      }),
    });
    // the query string: an access token, a filter on the password
    await proxy(`/Users/q1?access_token=${encodeURIComponent(PW.queryToken)}`);
    await proxy(`/Users?filter=${encodeURIComponent(`password eq "${PW.filter}"`)}`);
    // a gzipped ListResponse to a filter query: compliant, with the token echoed inside
    await proxy(`/Users?filter=${encodeURIComponent('userName eq "gzip-list@example.com"')}`, {
      headers: { 'x-echo-as': 'gzipList' },
    });

    scimtap.recorder.flush();
    await scimtap.tick();
    await smtp.waitFor(1, 15_000);

    ops = JSON.parse(await admin('/api/operations?limit=1000')).items;
    api += JSON.stringify(ops);
    for (const op of ops) api += await admin(`/api/operations/${op.id}`);
    const incidents = JSON.parse(await admin('/api/incidents')).items;
    api += JSON.stringify(incidents);
    for (const i of incidents) api += await admin(`/api/incidents/${i.id}`);
    api += await admin('/api/status');
    api += await admin('/api/notifications');
    api += await admin('/api/identities');
    csv = await admin('/api/export.csv');
  });

  it('the app really echoed every secret, and scimtap recorded the exchanges (the checks below mean something)', () => {
    expect(upstream.received.length).toBe(12);
    expect(ops.length).toBe(12);
    expect(smtp.messages.length).toBeGreaterThanOrEqual(1);
    // the emails carry sample failures with the app's (scrubbed) words
    expect(smtp.messages.map((m) => m.text).join('\n')).toContain('[redacted]');
    expect(api).toContain('[redacted]');
    expect(csv).toContain('[redacted]');
  });

  it('classifies a gzipped ListResponse to a filter query as compliant (no scimCompliance incident)', () => {
    const list = ops.find((o) => o.query.includes('gzip-list'));
    expect(list?.status).toBe('success');
    expect(list?.errorCode).toBeNull();
    expect(api).not.toContain('scimCompliance');
  });

  it('keeps every form out of the SQLite files (.db, -wal)', () => {
    scimtap.recorder.flush();
    const files = readdirSync(scimtap.dir).filter((f) => f.startsWith('scimtap.db'));
    expect(files).toContain('scimtap.db');
    for (const file of files) expect(leaks(readFileSync(join(scimtap.dir, file))), file).toEqual([]);
  });

  it('keeps every form out of /api/operations, /api/incidents, /api/status and the CSV', () => {
    expect(leaks(api), 'the API').toEqual([]);
    expect(leaks(csv), 'the CSV').toEqual([]);
  });

  it('keeps every form out of the emails', () => {
    for (const m of smtp.messages) {
      const all = [m.subject, m.text, m.html, JSON.stringify([...m.headers])].join('\n');
      expect(leaks(all), `email "${m.subject}"`).toEqual([]);
    }
  });
});

describe('an SMTP server that echoes the login it refused', () => {
  const USER = `mailer-${rnd()}`;
  const PASS = `smtp+Pw/${rnd()}=`;
  let server: SMTPServer;
  let tap: Awaited<ReturnType<typeof startTestScimtap>>;

  beforeAll(async () => {
    server = new SMTPServer({
      disabledCommands: ['STARTTLS'],
      allowInsecureAuth: true,
      logger: false,
      onAuth(auth, _session, callback) {
        // the worst a server does: the login in clear, URL-encoded and as the AUTH PLAIN line it got
        const plain = Buffer.from(`\u0000${auth.username}\u0000${auth.password}`).toString('base64');
        callback(
          new Error(
            `bad login ${auth.username}:${auth.password} (${encodeURIComponent(auth.password ?? '')}, ${plain})`,
          ),
        );
      },
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.server.address() as AddressInfo;
    tap = await startTestScimtap(upstream.url, {
      SCIMTAP_NOTIFY_TO: 'ops@example.com',
      SCIMTAP_SMTP_URL: `smtp://${encodeURIComponent(USER)}:${encodeURIComponent(PASS)}@127.0.0.1:${port}`,
    });
  });

  afterAll(async () => {
    await tap?.stop();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('stores and shows the refusal without the username or password in any form', async () => {
    const get = async (path: string) => (await send(`${tap.adminUrl}${path}`)).body.toString();
    await send(`${tap.adminUrl}/api/notifications/test`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    const failed = await until(
      async () => {
        await tap.tick();
        const items = JSON.parse(await get('/api/notifications')).items as Array<{
          lastError: string | null;
        }>;
        return items.find((n) => n.lastError?.includes('bad login'));
      },
      15_000,
      'the test email to fail',
    );
    // the refusal itself is kept: the admin needs to know the login was refused
    expect(failed.lastError).toMatch(/535 bad login \[redacted\]/);
    const everything = [
      await get('/api/notifications'),
      await get('/api/health'),
      await get('/api/status'),
      ...readdirSync(tap.dir)
        .filter((f) => f.startsWith('scimtap.db'))
        .map((f) => readFileSync(join(tap.dir, f)).toString('latin1')),
    ].join('\n');
    for (const secret of [
      USER,
      PASS,
      encodeURIComponent(PASS),
      Buffer.from(`\u0000${USER}\u0000${PASS}`).toString('base64'),
    ]) {
      expect(everything.includes(secret), secret).toBe(false);
    }
  });
});
