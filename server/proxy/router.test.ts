import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type AppRoute, appTarget, createRouter, firstSegment } from './router.js';

describe('firstSegment', () => {
  it('is the text up to the next / or ?, as sent', () => {
    expect(firstSegment('/tanium/Users?x=1')).toBe('tanium');
    expect(firstSegment('/tanium?x=1')).toBe('tanium');
    expect(firstSegment('/tanium')).toBe('tanium');
    expect(firstSegment('/')).toBe('');
    expect(firstSegment('/%74anium/Users')).toBe('%74anium');
  });

  it('is nobody for a target that is not a path, or a segment longer than any app id', () => {
    expect(firstSegment('*')).toBeNull();
    expect(firstSegment('http://evil.example/tanium/')).toBeNull();
    expect(firstSegment(`/${'a'.repeat(40)}/Users`)).toBe('a'.repeat(40));
    expect(firstSegment(`/${'a'.repeat(41)}/Users`)).toBeNull();
    expect(firstSegment(`/${'a'.repeat(41)}`)).toBeNull();
  });

  it('stops after the longest app id on a huge segment (linear, bounded)', () => {
    const huge = `/${'a'.repeat(5_000_000)}`;
    const start = performance.now();
    for (let i = 0; i < 1000; i++) firstSegment(huge);
    // 1,000 scans of the whole 5 MB string would take seconds; the bounded scan takes microseconds.
    expect(performance.now() - start).toBeLessThan(500);
  });
});

describe('appTarget', () => {
  it('is the rest of the target, always starting with /', () => {
    expect(appTarget('/tanium/scim/v2/Users?filter=x', '/tanium')).toBe('/scim/v2/Users?filter=x');
    expect(appTarget('/tanium', '/tanium')).toBe('/');
    expect(appTarget('/tanium?x=1', '/tanium')).toBe('/?x=1');
    expect(appTarget('/Users', '')).toBe('/Users');
  });
});

describe('createRouter', () => {
  const servers: http.Server[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
  });

  /** A listener with the router in front of apps that answer `<prefix> <target they were given>`. */
  async function listener(prefixes: string[]) {
    const routes: AppRoute[] = prefixes.map((prefix) => ({
      prefix,
      handle: (_req, res, rawUrl) => res.end(`${prefix || '(root)'} ${rawUrl}`),
    }));
    const router = createRouter(routes);
    const server = http.createServer((req, res) => router.handle(req, res));
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return { router, base };
  }

  it('sends each app its own requests, without the prefix', async () => {
    const { base } = await listener(['/tanium', '/acme-hr']);
    expect(await (await fetch(`${base}/tanium/scim/v2/Users?x=1`)).text()).toBe('/tanium /scim/v2/Users?x=1');
    expect(await (await fetch(`${base}/acme-hr/Groups/g1`)).text()).toBe('/acme-hr /Groups/g1');
    expect(await (await fetch(`${base}/acme-hr`)).text()).toBe('/acme-hr /');
  });

  it('gives the single app (no apps list) every request as it came', async () => {
    const { base, router } = await listener(['']);
    expect(await (await fetch(`${base}/scim/v2/Users`)).text()).toBe('(root) /scim/v2/Users');
    expect(await (await fetch(`${base}/tanium/Users`)).text()).toBe('(root) /tanium/Users');
    expect(router.unknown()).toBe(0);
  });

  it('answers an unknown app with a SCIM 404 that does not echo the request, and counts it', async () => {
    const { base, router } = await listener(['/tanium']);
    const details = new Set<string>();
    for (const path of ['/other/Users', '/', '/Tanium/Users', '/%74anium/Users', `/${'x'.repeat(100)}`]) {
      const res = await fetch(`${base}${path}`);
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toBe('application/scim+json');
      const body = await res.json();
      expect(body.schemas).toEqual(['urn:ietf:params:scim:api:messages:2.0:Error']);
      expect(body.status).toBe('404');
      details.add(body.detail);
    }
    // one fixed text for every probe: nothing of the client's bytes comes back
    expect([...details]).toEqual([expect.stringContaining('no app here')]);
    expect(router.unknown()).toBe(5);
  });

  it('does not wait for the body of a request to an unknown app', async () => {
    const { base } = await listener(['/tanium']);
    const { port } = new URL(base);
    // Headers announce 1 MB that never comes: the answer must not wait for it.
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request({
        port,
        method: 'POST',
        path: '/nope/Users',
        headers: { 'content-length': 1e6 },
      });
      req.on('response', (res) => {
        resolve(res.statusCode ?? 0);
        res.resume();
      });
      req.on('error', reject);
      req.write('{"userName":');
    });
    expect(status).toBe(404);
  });

  it('serves the routes set last: a removed app is unknown, an added one answers', async () => {
    const { base, router } = await listener(['/tanium', '/acme-hr']);
    router.setRoutes([
      { prefix: '/tanium', handle: (_req, res, rawUrl) => res.end(`/tanium ${rawUrl}`) },
      { prefix: '/payroll', handle: (_req, res, rawUrl) => res.end(`/payroll ${rawUrl}`) },
    ]);
    expect(await (await fetch(`${base}/tanium/Users`)).text()).toBe('/tanium /Users');
    expect(await (await fetch(`${base}/payroll/Users`)).text()).toBe('/payroll /Users');
    expect((await fetch(`${base}/acme-hr/Users`)).status).toBe(404);
    expect(router.unknown()).toBe(1);
  });
});
