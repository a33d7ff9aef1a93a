import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import type http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Received, send, sha256, startUpstream } from '../helpers/http.js';
import { startTestScimtap } from '../helpers/scimtap.js';
import { startSmtp, type TestSmtp } from '../helpers/smtp.js';
import { rawExchange, request } from './lib.js';

// Security (issue 7 §6, ARCHITECTURE §7), against a real scimtap with an admin token, a real SMTP server and
// an upstream that misbehaves the way that leaks secrets: it echoes passwords back and reflects the bearer
// token and password values in its error details.

const ADMIN_TOKEN = `admin-${randomBytes(16).toString('hex')}`;
const TOKEN = `token-${randomBytes(24).toString('hex')}`;
const WRONG_TOKEN = `token-WRONG${randomBytes(24).toString('hex')}`;
const UPSTREAM_PASSWORD = `upw${randomBytes(8).toString('hex')}`;
// One password per way it can travel; each must appear nowhere scimtap writes.
const P = Object.fromEntries(
  [
    'echoed',
    'reflected',
    'patchPath',
    'patchObject',
    'extension',
    'truncated',
    'html',
    'wrongToken',
    'revoked',
  ].map((k) => [k, `Pw-${k}-${randomBytes(12).toString('hex')}`]),
) as Record<string, string>;
const SECRETS = { TOKEN, WRONG_TOKEN, UPSTREAM_PASSWORD, ADMIN_TOKEN, ...P };

const json = (res: http.ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/scim+json', 'x-from-upstream': '1' });
  res.end(JSON.stringify(body));
};
const scimError = (status: number, detail: string) => ({
  schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
  status: String(status),
  detail,
});

/** While set, the app rejects Entra's own token too: the token was revoked at the app. */
let tokenRevoked = false;

/** A careless SCIM app: echoes secrets in bodies and error details. */
function carelessApp(r: Received, res: http.ServerResponse) {
  const presented = (r.headers.authorization ?? '').replace(/^Bearer /, '');
  if (!r.url.startsWith('/scim/v2/')) return json(res, 200, { path: r.url, answeredBy: 'upstream' });
  if (presented !== TOKEN || tokenRevoked)
    return json(res, 401, scimError(401, `The token ${presented} is not valid for this tenant`));
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(r.body.toString() || '{}');
  } catch {}
  const text = r.body.toString();
  if (text.includes(P.reflected)) {
    return json(res, 400, {
      ...scimError(400, `Password '${P.reflected}' does not meet the complexity rules`),
      scimType: 'invalidValue',
    });
  }
  if (text.includes(P.patchPath))
    return json(res, 400, scimError(400, `cannot set password to ${P.patchPath}`));
  if (text.includes(P.html)) {
    res.writeHead(500, { 'content-type': 'text/html', 'x-from-upstream': '1' });
    return res.end(
      `<html><body><h1>Server Error</h1><p>while saving ${P.html} for ${body.userName}</p></body></html>`,
    );
  }
  if (r.method === 'POST')
    return json(res, 201, { ...body, id: `id-${sha256(text).slice(0, 8)}`, meta: { resourceType: 'User' } });
  return json(res, 200, { ...body, id: 'id-1' });
}

const user = (userName: string, extra: Record<string, unknown> = {}) => ({
  schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
  userName,
  externalId: `ext-${userName}`,
  active: true,
  ...extra,
});

let upstream: Awaited<ReturnType<typeof startUpstream>>;
let smtp: TestSmtp;
let scimtap: Awaited<ReturnType<typeof startTestScimtap>>;
let logFile: string;
let webRoot: string;

async function proxy(method: string, path: string, body?: unknown, token = TOKEN) {
  return send(`${scimtap.proxyUrl}/scim/v2${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/scim+json' }),
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
}

async function admin(
  path: string,
  { method = 'GET', token = ADMIN_TOKEN as string | null, body = undefined as unknown } = {},
) {
  return request(`${scimtap.adminUrl}${path}`, {
    method,
    headers: {
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'scimtap-security-'));
  logFile = join(dir, 'scimtap.log');
  // A stand-in for the built dashboard: the static handler does not care what the files contain.
  webRoot = join(dir, 'web');
  mkdirSync(join(webRoot, 'assets'), { recursive: true });
  writeFileSync(
    join(webRoot, 'index.html'),
    '<!doctype html><div id="root"></div><script src="/assets/app.js"></script>',
  );
  writeFileSync(join(webRoot, 'assets', 'app.js'), 'console.log("dashboard")');
  upstream = await startUpstream(carelessApp);
  smtp = await startSmtp();
  const logger = pino(
    { level: 'trace', base: { app: 'scimtap' } },
    pino.destination({ dest: logFile, sync: true }),
  );
  const u = new URL(upstream.url);
  scimtap = await startTestScimtap(
    `http://scim:${UPSTREAM_PASSWORD}@${u.host}`,
    {
      SCIMTAP_ADMIN_TOKEN: ADMIN_TOKEN,
      SCIMTAP_NOTIFY_TO: 'ops@example.com',
      SCIMTAP_SMTP_URL: smtp.url,
      SCIMTAP_APP_NAME: 'Tanium SSO',
      SCIMTAP_LOG_LEVEL: 'trace',
    },
    { logger, webRoot },
  );
});

afterAll(async () => {
  await scimtap?.stop();
  await upstream?.close();
  await smtp?.close();
});

/** The admin routes as the running app declares them, with their parameters filled in. */
function adminRoutes(): { method: string; path: string }[] {
  const out = new Map<string, { method: string; path: string }>();
  // The listener's own routes (/api/apps, /metrics, the dispatch), and an app's /api routes it dispatches to.
  const appRoutes = Object.values(scimtap.apps).flatMap((p) =>
    p.api.routes.map((r) => ({ method: r.method, path: `/api${r.path}` })),
  );
  for (const r of [...scimtap.admin.routes, ...appRoutes]) {
    if (!(r.path.startsWith('/api') || r.path.startsWith('/metrics'))) continue;
    const path = r.path.replace(/\/\*$/, '/anything').replace(/:\w+/g, '1');
    const methods = r.method === 'ALL' ? ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] : [r.method];
    for (const method of methods) out.set(`${method} ${path}`, { method, path });
  }
  return [...out.values()];
}

describe('the admin API with SCIMTAP_ADMIN_TOKEN set', () => {
  it('enumerates the app’s routes: every /api route and /metrics is there', () => {
    const routes = adminRoutes().map((r) => `${r.method} ${r.path}`);
    for (const known of [
      'GET /api/health',
      'GET /api/status',
      'GET /api/cycles',
      'GET /api/cycles/1',
      'GET /api/operations',
      'GET /api/operations/1',
      'GET /api/identities',
      'GET /api/identities/1',
      'GET /api/incidents',
      'POST /api/incidents/1/ack',
      'GET /api/silences',
      'POST /api/silences',
      'DELETE /api/silences/1',
      'GET /api/notifications',
      'POST /api/notifications/test',
      'GET /api/export.csv',
      'GET /api/apps',
      'GET /metrics',
    ]) {
      expect(routes).toContain(known);
    }
  });

  it('answers 401 on every route without a token, with a wrong one, and with malformed ones', async () => {
    const problems: string[] = [];
    const routes = [
      ...adminRoutes(),
      // not routes, but under the protected prefixes: an attacker must not learn which exist
      { method: 'GET', path: '/api/nope' },
      { method: 'GET', path: '/api/' },
      { method: 'GET', path: '/api/operations/' },
      { method: 'GET', path: '/api//operations' },
      { method: 'GET', path: '/api/operations?limit=1' },
      { method: 'GET', path: '/api/export.csv?status=failure' },
      { method: 'OPTIONS', path: '/api/operations' },
      { method: 'HEAD', path: '/api/operations' },
      { method: 'HEAD', path: '/metrics' },
    ];
    const wrong = [
      null,
      'wrong-token-of-some-length',
      ADMIN_TOKEN.slice(0, -1),
      `${ADMIN_TOKEN} `.repeat(2),
      '',
    ];
    for (const { method, path } of routes) {
      for (const token of wrong) {
        const res = await admin(path, { method, token, body: method === 'POST' ? { by: 'x' } : undefined });
        if (res.status !== 401)
          problems.push(
            `${method} ${path} with ${token === null ? 'no token' : `"${token.slice(0, 12)}…"`}: ${res.status}`,
          );
        else if (!String(res.headers['www-authenticate']).startsWith('Bearer'))
          problems.push(`${method} ${path}: no WWW-Authenticate`);
      }
      // and the right token gets past the check (the route is real, not a blanket 401)
      const ok = await admin(path, { method, body: method === 'POST' ? { by: 'x' } : undefined });
      if (ok.status === 401) problems.push(`${method} ${path}: 401 with the right token`);
    }
    expect(problems).toEqual([]);
  });

  it('serves no API data under spellings that dodge the /api/* prefix', async () => {
    // Whatever these match, none may return what /api/operations or /metrics return.
    for (const path of [
      '/API/operations',
      '/Api/health',
      '/%61pi/operations',
      '/api%2Foperations',
      '/metrics/',
      '/METRICS',
      '/./api/operations',
      '/x/../api/operations',
    ]) {
      const res = await admin(path, { token: null });
      const text = res.body.toString();
      const leaked =
        res.status === 200 &&
        (text.includes('"items"') || text.includes('scimtap_') || text.includes('"version"'));
      expect(leaked, `${path}: ${res.status} ${text.slice(0, 80)}`).toBe(false);
    }
  });

  it('serves the dashboard’s static files without the token', async () => {
    for (const path of ['/', '/index.html', '/assets/app.js', '/identities/42', '/incidents?state=firing']) {
      const res = await admin(path, { token: null });
      expect(res.status, path).toBe(200);
    }
  });

  it('sends no CORS headers: another origin’s page cannot read the API', async () => {
    const preflight = await request(`${scimtap.adminUrl}/api/operations`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://evil.example',
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'authorization',
      },
    });
    expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
    const get = await admin('/api/health', { token: ADMIN_TOKEN });
    expect(get.headers['access-control-allow-origin']).toBeUndefined();
    const withOrigin = await request(`${scimtap.adminUrl}/api/health`, {
      headers: { origin: 'https://evil.example', authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(withOrigin.headers['access-control-allow-origin']).toBeUndefined();
  });
});

describe('the proxy listener', () => {
  it('forwards every admin path to the upstream and never answers one itself', async () => {
    const paths = [
      ...adminRoutes().map((r) => r.path),
      '/',
      '/index.html',
      '/assets/app.js',
      '/metrics',
      '/api/health',
    ];
    for (const path of paths) {
      for (const method of ['GET', 'POST', 'DELETE']) {
        const res = await send(scimtap.proxyUrl, {
          method,
          path,
          headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
        });
        expect(res.headers['x-from-upstream'], `${method} ${path}`).toBe('1');
        expect(JSON.parse(res.body.toString())).toEqual({ path, answeredBy: 'upstream' });
      }
    }
  });

  it('never lets a chunked GET body become a request of its own at the upstream', async () => {
    // A keep-alive upstream, so scimtap reuses the connection: a body left unframed would be read as a request.
    const up = await startUpstream((_r, res) => {
      res.writeHead(200, { 'content-type': 'application/scim+json' });
      res.end('{}');
    });
    const tap = await startTestScimtap(up.url);
    try {
      const hidden = 'DELETE /Users/victim HTTP/1.1\r\nHost: x\r\n\r\n';
      const wire = `GET /Users HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${hidden.length.toString(16)}\r\n${hidden}\r\n0\r\n\r\n`;
      await rawExchange(tap.proxyUrl, Buffer.from(wire));
      await request(tap.proxyUrl, { path: '/Users/after' });
      expect(up.received.map((r) => `${r.method} ${r.url}`)).toEqual(['GET /Users', 'GET /Users/after']);
      expect(up.received[0].body.toString()).toBe(hidden);
    } finally {
      await tap.stop();
      await up.close();
    }
  });
});

describe('secrets are never written', () => {
  let apiDump = '';
  let csv = '';

  beforeAll(async () => {
    // Secrets travel every way a careless app and Entra can send them.
    await proxy('POST', '/Users', user('echoed@example.com', { password: P.echoed }));
    await proxy('POST', '/Users', user('reflected@example.com', { password: P.reflected }));
    await proxy('PATCH', '/Users/id-1', {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'Replace', path: 'password', value: P.patchPath }],
    });
    await proxy('PATCH', '/Users/id-1', {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'replace', value: { password: P.patchObject, displayName: 'x' } }],
    });
    await proxy(
      'PUT',
      '/Users/id-1',
      user('ext@example.com', {
        'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User': { Password: P.extension },
      }),
    );
    // The capture limit (64 KiB) cuts this body in the middle of the password.
    const padding = 'p'.repeat(65_536 - 120);
    await proxy(
      'POST',
      '/Users',
      `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"big","displayName":"${padding}","password":"${P.truncated}"}`,
    );
    await proxy('POST', '/Users', user('html@example.com', { password: P.html }));
    // A stranger's wrong token three times: recorded (as an unrecognised client), and its secrets with it.
    for (let i = 0; i < 3; i++) {
      await proxy('POST', '/Users', user(`wrong${i}@example.com`, { password: P.wrongToken }), WRONG_TOKEN);
    }
    // Then the app starts rejecting Entra's own token, and reflects it in the error detail: the credentials
    // rule fires and an email goes out, with sample failures that carry the token and the passwords.
    tokenRevoked = true;
    for (let i = 0; i < 3; i++) {
      await proxy('POST', '/Users', user(`revoked${i}@example.com`, { password: P.revoked }));
    }
    tokenRevoked = false;
    scimtap.recorder.flush();
    await scimtap.tick();
    await smtp.waitFor(1, 15_000);

    for (const r of adminRoutes().filter((r) => r.method === 'GET' && !r.path.includes('/anything'))) {
      apiDump += (await admin(r.path)).body.toString();
    }
    const ops = JSON.parse((await admin('/api/operations?limit=1000')).body.toString());
    for (const op of ops.items) apiDump += (await admin(`/api/operations/${op.id}`)).body.toString();
    const incidents = JSON.parse((await admin('/api/incidents')).body.toString());
    for (const i of incidents.items) apiDump += (await admin(`/api/incidents/${i.id}`)).body.toString();
    const notes = JSON.parse((await admin('/api/notifications')).body.toString());
    for (const n of notes.items) apiDump += (await admin(`/api/notifications/${n.id}`)).body.toString();
    csv = (await admin('/api/export.csv')).body.toString();
  });

  const check = (where: string, text: string) => {
    const found = Object.entries(SECRETS).filter(([, secret]) => text.includes(secret));
    expect(
      found.map(([name]) => name),
      `secrets found in ${where}`,
    ).toEqual([]);
  };

  it('an incident fired and its email was sent, so the checks below see real content', () => {
    expect(smtp.messages.length).toBeGreaterThanOrEqual(1);
    expect(smtp.messages[0].subject).toMatch(/credentials|token|401/i);
    expect(apiDump).toContain('reflected@example.com');
    expect(csv.split('\r\n').length).toBeGreaterThan(8);
  });

  it('keeps secrets out of the database files (.db, -wal, -shm)', async () => {
    for (const file of readdirSync(scimtap.dir).filter((f) => f.startsWith('scimtap.db'))) {
      check(file, readFileSync(join(scimtap.dir, file)).toString('latin1'));
    }
    // the token's fingerprint is there instead
    const fp = sha256(TOKEN).slice(0, 12);
    const row = scimtap.db.$client
      .prepare('select count(*) as n from operations where token_fingerprint = ?')
      .get(fp) as { n: number };
    expect(row.n).toBeGreaterThan(0);
  });

  it('keeps secrets out of the logs (debug and trace included)', () => {
    const log = readFileSync(logFile, 'utf8');
    expect(log).toContain('scimtap is forwarding');
    check('the log', log);
  });

  it('keeps secrets out of the emails (subject, text, HTML, headers)', () => {
    for (const m of smtp.messages) {
      check(`email "${m.subject}"`, [m.subject, m.text, m.html, JSON.stringify([...m.headers])].join('\n'));
    }
  });

  it('keeps secrets out of every API answer and the CSV export', () => {
    check('the API', apiDump);
    check('the CSV', csv);
  });
});

describe('captured content is returned as data', () => {
  const XSS = [
    '<img src=x onerror=alert(1)>',
    '"><script>alert(document.cookie)</script>',
    "javascript:alert('x')",
    '{{constructor.constructor("alert(1)")()}}',
  ];
  const FORMULAS = [
    '=1+1',
    '+SUM(A1:A2)',
    '-2+3',
    '@SUM(A1)',
    '\t=cmd',
    '\r=cmd',
    '=HYPERLINK("http://evil.example","x")',
  ];

  beforeAll(async () => {
    for (const name of [...XSS, ...FORMULAS])
      await proxy('POST', '/Users', user(name, { externalId: name, displayName: name }));
    // an upstream error detail is echoed into the reason column
    await proxy('POST', '/Users', user('formula-reason', { password: P.reflected }));
    scimtap.recorder.flush();
  });

  it('returns XSS payloads as JSON strings, unchanged, with a JSON content type', async () => {
    for (const name of XSS) {
      const res = await admin(`/api/operations?q=${encodeURIComponent(name)}&limit=10`);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      const body = JSON.parse(res.body.toString());
      expect(body.items.map((o: { identity: string }) => o.identity)).toContain(name);
      // The API's part is data in, the same data out, typed as JSON; rendering it as text is the dashboard's
      // part (test/e2e/dashboard.test.ts checks that no dialog opens in Chromium).
    }
  });

  it('neutralises spreadsheet formulas in every CSV cell', async () => {
    const res = await admin('/api/export.csv');
    const rows: string[][] = parse(res.body.toString(), { relax_column_count: false });
    const dangerous = rows
      .slice(1)
      .flatMap((row, i) =>
        row
          .filter((cell) => /^[=+\-@\t\r]/.test(cell))
          .map((cell) => `row ${i + 1}: ${JSON.stringify(cell)}`),
      );
    expect(dangerous).toEqual([]);
    for (const f of FORMULAS) expect(res.body.toString()).toContain(`'${f.replace(/"/g, '""')}`);
  });
});
