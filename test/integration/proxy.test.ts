import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProxy, type ScimProxy } from '../../server/proxy/index.js';
import { listen } from '../../server/proxy/server.js';
import type { Exchange } from '../../server/scim/types.js';
import { makeCerts } from '../helpers/certs.js';
import { type Received, send, sha256, startUpstream } from '../helpers/http.js';
import { startTestScimtap } from '../helpers/scimtap.js';

// The proxy alone, with a real sink (an array) and a raw upstream that echoes what it got.
async function startPair(
  respond: (r: Received, res: http.ServerResponse) => void,
  opts: { timeoutMs?: number; captureLimitBytes?: number } = {},
) {
  const upstream = await startUpstream(respond);
  const exchanges: Exchange[] = [];
  const proxy = createProxy({
    upstream: `${upstream.url}/scim/v2/`,
    sink: { record: (e) => exchanges.push(e) },
    ...opts,
  });
  const listener = await listen({ host: '127.0.0.1', port: 0 }, proxy.handle);
  return {
    upstream,
    exchanges,
    proxy,
    url: listener.url,
    async close() {
      await listener.close();
      proxy.close();
      await upstream.close();
    },
  };
}

const echo = (r: Received, res: http.ServerResponse) => {
  res.writeHead(r.method === 'POST' ? 201 : 200, {
    'content-type': 'application/scim+json',
    'x-upstream-method': r.method,
    'x-upstream-url': r.url,
    connection: 'keep-alive',
    'keep-alive': 'timeout=5',
  });
  res.end(r.body.length ? r.body : Buffer.from('{"Resources":[],"totalResults":0}'));
};

/** Records arrive after the response has finished; wait for them without sleeping blindly. */
async function until<T>(f: () => T | undefined, ms = 2_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('proxy forwarding', () => {
  let pair: Awaited<ReturnType<typeof startPair>>;
  beforeAll(async () => {
    pair = await startPair(echo);
  });
  afterAll(() => pair.close());

  it('joins the upstream base path and the request path with one slash, query untouched', async () => {
    const query = 'filter=userName%20eq%20%22ada%40example.com%22&excludedAttributes=members&x=%ZZ&y=a+b';
    const res = await send(pair.url, { path: `/Users?${query}` });
    expect(res.headers['x-upstream-url']).toBe(`/scim/v2/Users?${query}`);
    const ex = await until(() => pair.exchanges.find((e) => e.query === query));
    expect(ex.path).toBe('/Users');
    expect(ex.httpStatus).toBe(200);
  });

  it('forwards request and response bodies byte for byte, including non-UTF-8 and 5 MiB', async () => {
    for (const body of [
      randomBytes(5 * 1024 * 1024),
      Buffer.from([0xff, 0xfe, 0x00, 0xc3, 0x28]),
      Buffer.from('{"a":'),
    ]) {
      pair.upstream.received.length = 0;
      const res = await send(pair.url, {
        method: 'POST',
        path: '/Users',
        body,
        headers: { 'content-type': 'application/octet-stream', 'content-length': body.length },
      });
      expect(sha256(pair.upstream.received[0].body)).toBe(sha256(body));
      expect(sha256(res.body)).toBe(sha256(body));
      expect(res.status).toBe(201);
    }
  });

  it('keeps at most the capture limit of each body but counts every byte', async () => {
    const body = randomBytes(200_000);
    await send(pair.url, { method: 'PUT', path: '/Users/big', body });
    const ex = await until(() => pair.exchanges.find((e) => e.path === '/Users/big'));
    expect(ex.requestBytes).toBe(200_000);
    expect(ex.requestBody?.length).toBe(65_536);
    expect(ex.requestTruncated).toBe(true);
    expect(ex.responseBytes).toBe(200_000);
    expect(ex.responseTruncated).toBe(true);
  });

  it('passes end-to-end headers, drops hop-by-hop ones, and sets Host to the upstream', async () => {
    const res = await send(pair.url, {
      path: '/Groups',
      headers: {
        authorization: 'Bearer token-abc',
        'x-custom': 'kept',
        connection: 'keep-alive, x-hop',
        'x-hop': 'dropped',
        te: 'trailers',
      },
    });
    const got = pair.upstream.received.at(-1)!;
    expect(got.headers.authorization).toBe('Bearer token-abc');
    expect(got.headers['x-custom']).toBe('kept');
    expect(got.headers['x-hop']).toBeUndefined();
    expect(got.headers.te).toBeUndefined();
    expect(got.headers.host).toBe(`127.0.0.1:${pair.upstream.port}`);
    // the client sees scimtap's own connection management, not the upstream's timeout=5
    expect(res.headers['keep-alive']).not.toBe('timeout=5');
    expect(res.headers['x-upstream-method']).toBe('GET');
  });

  it('stores a fingerprint of the bearer token, never the token', async () => {
    await send(pair.url, { path: '/Users/fp', headers: { authorization: 'Bearer token-secret123' } });
    const ex = await until(() => pair.exchanges.find((e) => e.path === '/Users/fp'));
    expect(ex.tokenFingerprint).toBe(sha256('token-secret123').slice(0, 12));
    // the token travels to the recorder's stage only in `credentials`, to be scrubbed there (never stored)
    expect(ex.credentials).toEqual(['token-secret123']);
    expect(JSON.stringify({ ...ex, credentials: [] })).not.toContain('secret123');
  });

  it('forwards HEAD, OPTIONS, PUT, DELETE and unknown paths unchanged', async () => {
    for (const [method, path] of [
      ['HEAD', '/Users'],
      ['OPTIONS', '/Users'],
      ['PUT', '/Users/1'],
      ['DELETE', '/Groups/1'],
      ['GET', '/a..b%2f....%2fetc/passwd'],
      ['GET', '/api/health'],
    ]) {
      const res = await send(pair.url, { method, path });
      expect(res.status).toBe(200);
      if (method !== 'HEAD') expect(res.headers['x-upstream-method']).toBe(method);
      expect(pair.upstream.received.at(-1)!.url).toBe(`/scim/v2${path}`);
    }
  });

  it('refuses a dot-segment path with its own SCIM 400 (issue 10): the upstream never sees it', async () => {
    const before = pair.upstream.received.length;
    const res = await send(pair.url, { path: '/..%2f..%2fetc/passwd' });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body.toString())).toMatchObject({ status: '400' });
    const ex = await until(() => pair.exchanges.find((e) => e.path === '/..%2f..%2fetc/passwd'));
    expect(ex).toMatchObject({ httpStatus: 400, failure: 'Refused' });
    expect(pair.upstream.received.length).toBe(before);
  });
});

describe('proxy failures', () => {
  it('answers 502 with a SCIM error when the upstream refuses connections', async () => {
    const pair = await startPair(echo);
    await pair.upstream.close();
    const res = await send(pair.url, { path: '/Users?filter=userName%20eq%20%22x%22' });
    expect(res.status).toBe(502);
    const body = JSON.parse(res.body.toString());
    expect(body).toMatchObject({ schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '502' });
    expect(body.detail).toMatch(/^scimtap: upstream unreachable: ECONNREFUSED/);
    const ex = await until(() => pair.exchanges[0]);
    expect(ex).toMatchObject({ httpStatus: 502, failure: 'UpstreamUnreachable' });
    await pair.close();
  });

  it('answers 504 when the upstream is slower than the timeout, and frees the request', async () => {
    const pair = await startPair((_r, res) => setTimeout(() => res.end('late'), 1_000), { timeoutMs: 150 });
    const started = Date.now();
    const res = await send(pair.url, { path: '/Users/slow' });
    expect(Date.now() - started).toBeLessThan(900);
    expect(res.status).toBe(504);
    expect(JSON.parse(res.body.toString()).detail).toMatch(/^scimtap: upstream timeout/);
    const ex = await until(() => pair.exchanges[0]);
    expect(ex).toMatchObject({ httpStatus: 504, failure: 'Timeout' });
    expect(pair.proxy.inFlight()).toBe(0);
    await pair.close();
  });

  it('records a client that goes away before the answer as ClientAborted', async () => {
    const pair = await startPair((_r, res) => setTimeout(() => res.end('{}'), 300));
    const u = new URL(pair.url);
    const req = http.request({ hostname: u.hostname, port: u.port, path: '/Users/abort', agent: false });
    req.on('error', () => {});
    req.end();
    setTimeout(() => req.destroy(), 50);
    const ex = await until(() => pair.exchanges[0]);
    expect(ex.failure).toBe('ClientAborted');
    await pair.close();
  });

  it('passes an upstream error answer through unchanged (never its own error)', async () => {
    const error =
      '{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"409","scimType":"uniqueness"}';
    const pair = await startPair((_r, res) => {
      res.writeHead(409, { 'content-type': 'application/scim+json' });
      res.end(error);
    });
    const res = await send(pair.url, { method: 'POST', path: '/Users', body: '{}' });
    expect(res.status).toBe(409);
    expect(res.body.toString()).toBe(error);
    await pair.close();
  });
});

describe('TLS', () => {
  it('serves the proxy listener over HTTPS and trusts an extra CA for the upstream', async () => {
    const certs = makeCerts();
    const upstream = await startUpstream(echo, { cert: certs.cert, key: certs.key });
    const exchanges: Exchange[] = [];
    const withoutCa = createProxy({ upstream: upstream.url, sink: { record: (e) => exchanges.push(e) } });
    const proxy: ScimProxy = createProxy({
      upstream: upstream.url,
      sink: { record: (e) => exchanges.push(e) },
      upstreamCa: certs.ca,
    });
    const tls = { cert: certs.cert, key: certs.key };
    const [a, b] = await Promise.all([
      listen({ host: '127.0.0.1', port: 0, tls }, withoutCa.handle),
      listen({ host: '127.0.0.1', port: 0, tls }, proxy.handle),
    ]);
    const untrusted = await send(a.url, { path: '/Users', ca: certs.ca });
    expect(untrusted.status).toBe(502);
    expect(JSON.parse(untrusted.body.toString()).detail).toMatch(/certificate/i);
    const trusted = await send(b.url, { path: '/Users', ca: certs.ca });
    expect(trusted.status).toBe(200);
    await Promise.all([a.close(), b.close(), upstream.close()]);
    withoutCa.close();
    proxy.close();
  });

  it('wires SCIMTAP_TLS_CERT/KEY and SCIMTAP_UPSTREAM_CA from the configuration', async () => {
    const certs = makeCerts();
    const upstream = await startUpstream(echo, { cert: certs.cert, key: certs.key });
    const scimtap = await startTestScimtap(upstream.url, {
      SCIMTAP_TLS_CERT: certs.certPath,
      SCIMTAP_TLS_KEY: certs.keyPath,
      SCIMTAP_UPSTREAM_CA: certs.caPath,
    });
    expect(scimtap.proxyUrl).toMatch(/^https:/);
    const res = await send(scimtap.proxyUrl, { path: '/Users/tls', ca: certs.ca });
    expect(res.status).toBe(200);
    scimtap.recorder.flush();
    expect(scimtap.db.$client.prepare('select http_status as s from operations').all()).toEqual([{ s: 200 }]);
    await scimtap.stop();
    await upstream.close();
  });
});
