import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import type http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream } from '../helpers/http.js';
import { startTestScimtap } from '../helpers/scimtap.js';
import {
  parseResponse,
  rawExchange,
  request,
  rssOf,
  type ScimtapProcess,
  spawnScimtap,
  stopProcess,
  until,
} from './lib.js';

// The admin plane against the browser of the admin who uses it (server/api/guard.ts): the listener is on
// loopback without a token, and that browser visits other sites. Every attack goes through the real admin
// listener, and each is checked to have changed nothing: no silence, no acknowledgement, no email queued.

const TOKEN = 'token-admin-plane-test';
let tokenRevoked = false;
const EVIL = 'http://evil.example';
const YEAR_OF_SILENCE = { rule: 'credentials', durationMinutes: 365 * 24 * 60, comment: 'evil' };

let upstream: Awaited<ReturnType<typeof startUpstream>>;
let scimtap: Awaited<ReturnType<typeof startTestScimtap>>;
let webRoot: string;
/** `127.0.0.1:<port>`: what a browser on the dashboard sends as Host */
let ownHost: string;
let port: string;

type Headers = Record<string, string>;

function admin(path: string, { method = 'GET', headers = {} as Headers, body = undefined as unknown } = {}) {
  return request(`${scimtap.adminUrl}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** The dashboard's own call: same origin, JSON. */
const own = (path: string, method = 'GET', body?: unknown) =>
  admin(path, {
    method,
    body,
    headers:
      method === 'GET'
        ? { 'sec-fetch-site': 'same-origin', 'sec-fetch-mode': 'cors' }
        : {
            origin: `http://${ownHost}`,
            'sec-fetch-site': 'same-origin',
            'content-type': 'application/json',
          },
  });

const json = (res: { body: Buffer }) => JSON.parse(res.body.toString());

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'scimtap-admin-plane-'));
  // A stand-in for the built dashboard: what matters here is who gets the files, not what they contain.
  webRoot = join(dir, 'web');
  mkdirSync(join(webRoot, 'assets'), { recursive: true });
  writeFileSync(
    join(webRoot, 'index.html'),
    '<!doctype html><div id="root"></div><script src="/assets/app.js"></script>',
  );
  writeFileSync(join(webRoot, 'assets', 'app.js'), 'console.log("dashboard")');
  upstream = await startUpstream((r, res) => {
    const ok = !tokenRevoked && r.headers.authorization === `Bearer ${TOKEN}`;
    res.writeHead(ok ? 200 : 401, { 'content-type': 'application/scim+json' });
    res.end(
      ok
        ? JSON.stringify({
            schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'],
            totalResults: 0,
            Resources: [],
          })
        : JSON.stringify({ schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '401' }),
    );
  });
  scimtap = await startTestScimtap(upstream.url, { SCIMTAP_NOTIFY_TO: 'ops@example.com' }, { webRoot });
  ownHost = new URL(scimtap.adminUrl).host;
  port = new URL(scimtap.adminUrl).port;

  // Recorded traffic for the reads to leak, and a firing credentials incident for the writes to touch.
  const filter = encodeURIComponent('userName eq "ada@example.com"');
  await request(`${scimtap.proxyUrl}/Users?filter=${filter}`, {
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  // Entra's token, accepted once, then rejected by the app: the credentials rule's case. (A stranger's wrong
  // token would only count as an unrecognised client.)
  tokenRevoked = true;
  for (let i = 0; i < 3; i++) {
    await request(`${scimtap.proxyUrl}/Users?filter=${filter}`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
  }
  tokenRevoked = false;
  scimtap.recorder.flush();
  await until(
    async () => {
      await scimtap.tick();
      return json(await own('/api/incidents?state=firing')).items.length > 0;
    },
    15_000,
    'the credentials incident to fire',
  );
}, 60_000);

afterAll(async () => {
  await scimtap?.stop();
  await upstream?.close();
});

describe('state-changing requests from another site', () => {
  let incidentId: number;
  let keptSilenceId: number;
  let emailsBefore: number;

  beforeAll(async () => {
    incidentId = json(await own('/api/incidents?state=firing')).items[0].id;
    // A silence the admin made, for the attacker to try to end.
    const kept = await own('/api/silences', 'POST', { rule: 'throttling', durationMinutes: 60 });
    expect(kept.status).toBe(201);
    keptSilenceId = json(kept).id;
    emailsBefore = json(await own('/api/notifications')).items.length;
  });

  // How a page on another site, or a client that lost its Origin, sends a request; and what it must get back.
  const attacks: [string, (path: string) => Headers, number][] = [
    [
      'a text/plain fetch from another origin (no preflight)',
      () => ({ origin: EVIL, 'content-type': 'text/plain' }),
      403,
    ],
    [
      'a form from another origin',
      () => ({ origin: EVIL, 'content-type': 'application/x-www-form-urlencoded' }),
      403,
    ],
    [
      'a multipart form from another origin',
      () => ({ origin: EVIL, 'content-type': 'multipart/form-data; boundary=x' }),
      403,
    ],
    ['JSON from another origin', () => ({ origin: EVIL, 'content-type': 'application/json' }), 403],
    [
      'JSON from another port on localhost',
      () => ({ origin: 'http://localhost:3000', 'content-type': 'application/json' }),
      403,
    ],
    ['Origin: null (a sandboxed frame)', () => ({ origin: 'null', 'content-type': 'text/plain' }), 403],
    [
      'fetch metadata says cross-site, no Origin',
      () => ({ 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'no-cors', 'content-type': 'text/plain' }),
      403,
    ],
    [
      'DNS rebinding: the attacker’s page is same-origin with its own name',
      () => ({
        host: `rebind.evil.example:${port}`,
        origin: `http://rebind.evil.example:${port}`,
        'content-type': 'application/json',
      }),
      421,
    ],
    ['text/plain without an Origin', () => ({ 'content-type': 'text/plain' }), 415],
    ['no Content-Type at all', () => ({}), 415],
  ];

  const writes = () => [
    { method: 'POST', path: '/api/silences', body: YEAR_OF_SILENCE },
    { method: 'POST', path: `/api/incidents/${incidentId}/ack`, body: { by: 'evil' } },
    { method: 'POST', path: `/api/incidents/${incidentId}/ack`, body: undefined },
    { method: 'POST', path: '/api/notifications/test', body: { requestedBy: 'evil' } },
    { method: 'POST', path: '/api/notifications/test', body: undefined },
    { method: 'DELETE', path: `/api/silences/${keptSilenceId}`, body: undefined },
  ];

  it('refuses each of them on every state-changing route, with a JSON error', async () => {
    const problems: string[] = [];
    for (const [how, headers, status] of attacks) {
      for (const { method, path, body } of writes()) {
        const res = await admin(path, { method, headers: headers(path), body });
        if (res.status !== status)
          problems.push(`${how}: ${method} ${path} → ${res.status}, expected ${status}`);
        else if (typeof json(res).error !== 'string')
          problems.push(`${how}: ${method} ${path}: no JSON error`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('and nothing changed: no silence created or ended, no acknowledgement, no email queued', async () => {
    const silences = json(await own('/api/silences?active=true')).items as { id: number; rule: string }[];
    expect(silences.map((s) => [s.id, s.rule])).toEqual([[keptSilenceId, 'throttling']]);
    expect(json(await own(`/api/incidents/${incidentId}`)).acknowledged).toBe(false);
    expect(json(await own('/api/notifications')).items.length).toBe(emailsBefore);
  });

  it('while the dashboard’s own JSON calls work (the refusals are not blanket)', async () => {
    expect((await own(`/api/incidents/${incidentId}/ack`, 'POST', {})).status).toBe(200);
    expect(json(await own(`/api/incidents/${incidentId}`)).acknowledged).toBe(true);
    expect((await own('/api/notifications/test', 'POST', {})).status).toBe(202);
    expect((await own(`/api/silences/${keptSilenceId}`, 'DELETE')).status).toBe(200);
    // Without an Origin (curl, scripts) JSON is enough, `; charset=` included.
    const curl = await admin('/api/silences', {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: { rule: 'throttling', durationMinutes: 5 },
    });
    expect(curl.status).toBe(201);
  });
});

describe('reads from another site, and DNS rebinding', () => {
  // What each path gives its own dashboard; a refused request must contain none of it.
  const reads: [string, (text: string) => boolean][] = [
    ['/api/operations', (t) => t.includes('"items":[{')],
    ['/api/operations?status=failure', (t) => t.includes('"items":[{')],
    ['/api/export.csv', (t) => t.includes('id,activityDateTime')],
    ['/api/health', (t) => t.includes('"version"')],
    ['/metrics', (t) => t.includes('scimtap_')],
    ['/', (t) => t.includes('<div id="root">')],
    ['/index.html', (t) => t.includes('<div id="root">')],
    ['/assets/app.js', (t) => t.includes('console.log("dashboard")')],
    ['/identities/42', (t) => t.includes('<div id="root">')],
  ];

  it('answers its own names with the data (127.0.0.1, localhost, [::1], with the port)', async () => {
    for (const host of [ownHost, `localhost:${port}`, `[::1]:${port}`, `LOCALHOST:${port}`]) {
      for (const [path, hasData] of reads) {
        const res = await admin(path, { headers: { host } });
        expect(res.status, `${host} ${path}`).toBe(200);
        expect(hasData(res.body.toString()), `${host} ${path}`).toBe(true);
      }
    }
  });

  it('refuses a rebinding Host on every path, static files included, with a JSON 421 and no data', async () => {
    const hosts = [
      `rebind.evil.example:${port}`,
      'rebind.evil.example',
      `127.0.0.1.nip.io:${port}`,
      `localhost:${Number(port) + 1}`,
      'localhost',
    ];
    const problems: string[] = [];
    for (const host of hosts) {
      for (const [path, hasData] of reads) {
        for (const method of ['GET', 'HEAD']) {
          const res = await admin(path, { method, headers: { host } });
          const text = res.body.toString();
          if (res.status !== 421) problems.push(`${method} ${host} ${path}: ${res.status}`);
          if (hasData(text)) problems.push(`${method} ${host} ${path}: leaked ${text.slice(0, 60)}`);
          if (method === 'GET' && res.status === 421 && json(res).error !== 'misdirectedRequest')
            problems.push(`${host} ${path}: ${text.slice(0, 80)}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('refuses another origin’s reads, whether they carry an Origin (CORS) or only fetch metadata (<img>, <script>)', async () => {
    const problems: string[] = [];
    const ways: Headers[] = [
      { origin: EVIL },
      { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'no-cors', 'sec-fetch-dest': 'script' },
      { 'sec-fetch-site': 'same-site', 'sec-fetch-mode': 'no-cors', 'sec-fetch-dest': 'image' },
      { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'iframe' },
    ];
    for (const headers of ways) {
      for (const [path, hasData] of reads) {
        const res = await admin(path, { headers });
        if (res.status !== 403 || hasData(res.body.toString()))
          problems.push(`${JSON.stringify(headers)} ${path}: ${res.status}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('still opens the dashboard from a link in an email (a cross-site top-level navigation)', async () => {
    const res = await admin('/identities/42', {
      headers: { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' },
    });
    expect(res.status).toBe(200);
  });

  it('answers SCIMTAP_PUBLIC_URL’s host and origin when one is configured, and still refuses others', async () => {
    const tap = await startTestScimtap(
      upstream.url,
      { SCIMTAP_PUBLIC_URL: 'https://scimtap.example.com' },
      { webRoot },
    );
    try {
      const call = (headers: Headers, method = 'GET', path = '/api/health') =>
        request(`${tap.adminUrl}${path}`, {
          method,
          headers,
          body: method === 'GET' ? undefined : '{"requestedBy":"ops"}',
        });
      expect((await call({ host: 'scimtap.example.com' })).status).toBe(200);
      expect((await call({ host: 'scimtap.example.com:443' })).status).toBe(200);
      const posted = await call(
        {
          host: 'scimtap.example.com',
          origin: 'https://scimtap.example.com',
          'content-type': 'application/json',
        },
        'POST',
        '/api/notifications/test',
      );
      expect(posted.status).toBe(202);
      expect((await call({ host: 'rebind.evil.example' })).status).toBe(421);
      expect((await call({ host: 'scimtap.example.com', origin: EVIL })).status).toBe(403);
    } finally {
      await tap.stop();
    }
  });
});

describe('security headers', () => {
  const expectHeaders = (what: string, headers: http.IncomingHttpHeaders) => {
    const csp = String(headers['content-security-policy']);
    expect(csp, what).toContain("default-src 'self'");
    expect(csp, what).toContain("script-src 'self'");
    expect(csp, what).toContain("frame-ancestors 'none'");
    expect(csp, what).not.toContain('unsafe-eval');
    expect(headers['x-frame-options'], what).toBe('DENY');
    expect(headers['x-content-type-options'], what).toBe('nosniff');
    expect(headers['referrer-policy'], what).toBe('no-referrer');
  };

  it('are on every kind of answer: data, files, CSV, metrics, and every error', async () => {
    const tap = await startTestScimtap(
      upstream.url,
      { SCIMTAP_ADMIN_TOKEN: `${TOKEN}-for-the-admin` },
      { webRoot },
    );
    try {
      const cases: [string, number, () => ReturnType<typeof request>][] = [
        ['JSON', 200, () => own('/api/health')],
        ['the app shell', 200, () => own('/')],
        ['a script', 200, () => own('/assets/app.js')],
        ['a client-side route', 200, () => own('/incidents/1')],
        ['CSV', 200, () => own('/api/export.csv')],
        ['metrics', 200, () => own('/metrics')],
        ['HEAD', 200, () => admin('/api/health', { method: 'HEAD' })],
        ['a bad query', 400, () => own('/api/operations?limit=nope')],
        ['an unknown API route', 404, () => own('/api/no-such-route')],
        ['an unknown object', 404, () => own('/api/operations/999999')],
        ['a POST to a file path', 404, () => own('/index.html', 'POST', {})],
        ['without the token', 401, () => request(`${tap.adminUrl}/api/operations`)],
        ['cross-origin', 403, () => admin('/api/health', { headers: { origin: EVIL } })],
        ['rebinding', 421, () => admin('/', { headers: { host: 'rebind.evil.example' } })],
        [
          'not JSON',
          415,
          () => admin('/api/silences', { method: 'POST', headers: { 'content-type': 'text/plain' } }),
        ],
        [
          'too large',
          413,
          () =>
            admin('/api/silences', {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: 'x'.repeat(70_000),
            }),
        ],
      ];
      for (const [what, status, call] of cases) {
        const res = await call();
        expect(res.status, what).toBe(status);
        expectHeaders(what, res.headers);
      }
    } finally {
      await tap.stop();
    }
  });
});

describe('request bodies', () => {
  it('reads a body up to 64 KiB (this one is valid JSON the route then rejects)', async () => {
    const res = await own('/api/silences', 'POST', {
      rule: 'credentials',
      durationMinutes: 5,
      comment: 'x'.repeat(60_000),
    });
    expect(res.status).toBe(400);
    expect(json(res).message).toMatch(/comment/);
  });

  it('refuses a larger one with 413, sent with Content-Length or chunked, and changes nothing', async () => {
    const before = json(await own('/api/silences')).items.length;
    const big = JSON.stringify({ ...YEAR_OF_SILENCE, comment: 'x'.repeat(66_000) });
    const sized = await admin('/api/silences', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: big,
    });
    expect(sized.status).toBe(413);
    expect(json(sized).error).toBe('payloadTooLarge');
    const chunked = await admin('/api/silences', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      body: big,
    });
    expect(chunked.status).toBe(413);
    expect(json(await own('/api/silences')).items.length).toBe(before);
  });

  it('refuses a declared 600 MB body at once, before reading any of it, and closes the connection', async () => {
    const head =
      `POST /api/silences HTTP/1.1\r\nHost: ${ownHost}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${600 * 1024 * 1024}\r\n\r\n{"rule":`;
    const { bytes, closedBy } = await rawExchange(scimtap.adminUrl, Buffer.from(head));
    const res = parseResponse(bytes);
    expect(res?.status).toBe(413);
    expect(res?.headers.connection).toBe('close');
    expect(closedBy).toBe('server');
  });
});

describe('a 600 MB streamed POST against a scimtap process', () => {
  let child: ScimtapProcess;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'scimtap-admin-body-'));
    child = await spawnScimtap({ SCIMTAP_UPSTREAM: upstream.url, SCIMTAP_DB: join(dir, 'scimtap.db') });
  }, 90_000);

  afterAll(async () => {
    if (child) await stopProcess(child);
  });

  it('is refused early, chunked without a Content-Length, and the process’s RSS does not grow', async () => {
    const u = new URL(child.adminUrl);
    const rssBefore = rssOf(child.pid);
    let rssPeak = rssBefore;
    const sampler = setInterval(() => {
      rssPeak = Math.max(rssPeak, rssOf(child.pid));
    }, 10);

    const socket = net.connect(Number(u.port), u.hostname);
    await new Promise((resolve) => socket.once('connect', resolve));
    const received: Buffer[] = [];
    let closed = false;
    socket.on('data', (d: Buffer) => received.push(d));
    socket.on('error', () => {});
    socket.on('close', () => {
      closed = true;
    });
    socket.write(
      `POST /api/silences HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`,
    );
    const chunk = Buffer.alloc(64 * 1024, 'a');
    const frame = Buffer.concat([
      Buffer.from(`${chunk.length.toString(16)}\r\n`),
      chunk,
      Buffer.from('\r\n'),
    ]);
    const total = 600 * 1024 * 1024;
    let sent = 0;
    // As fast as the server reads, until it answers or hangs up.
    while (sent < total && !closed && received.length === 0) {
      if (!socket.write(frame)) {
        await new Promise((resolve) => {
          socket.once('drain', resolve);
          socket.once('close', resolve);
        });
      }
      sent += chunk.length;
    }
    await until(() => closed, 10_000, 'the server to close the connection');
    clearInterval(sampler);
    rssPeak = Math.max(rssPeak, rssOf(child.pid));

    const res = parseResponse(Buffer.concat(received));
    expect(res?.status).toBe(413);
    // Refused after the cap, not after the upload: a few socket buffers' worth at most.
    expect(sent).toBeLessThan(64 * 1024 * 1024);
    const grewMb = (rssPeak - rssBefore) / 1024 / 1024;
    console.log(
      `600 MB streamed POST: refused after ${(sent / 1024 / 1024).toFixed(1)} MB sent; RSS +${grewMb.toFixed(1)} MB`,
    );
    expect(grewMb).toBeLessThan(50);
    // and the listener still serves
    const health = await request(`${child.adminUrl}/api/health`);
    expect(health.status).toBe(200);
    const silences = JSON.parse((await request(`${child.adminUrl}/api/silences`)).body.toString());
    expect(silences.items).toEqual([]);
  }, 120_000);
});
