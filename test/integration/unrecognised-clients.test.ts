import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { send, startUpstream } from '../helpers/http.js';
import { startTestScimtap } from '../helpers/scimtap.js';
import { EntraClient, MIN, type Scene, startScene, users } from './alerts-harness.js';

// Issue 10, item 3: traffic from outside Entra does not fake a quarantine. Everything goes through the real
// listeners: Entra-like and stranger requests into scimtap's proxy, the demo target behind it, a real SMTP
// server, and the detection tick.

/** A stranger with a token of its own (not the app's), through the same proxy. */
function stranger(scene: Scene): EntraClient {
  return new EntraClient(() => scene.scimtap.proxyUrl, `token-${'x'.repeat(58)}`);
}

/** Paths a scanner tries on any HTTPS endpoint, with no Authorization header. */
async function scan(scene: Scene, paths: string[]): Promise<number[]> {
  const statuses: number[] = [];
  for (const path of paths) statuses.push((await send(`${scene.scimtap.proxyUrl}${path}`)).status);
  return statuses;
}

/** Entra's initial cycle: the probe, then a lookup and a create per user. */
async function initialCycle(scene: Scene, people: string[]): Promise<void> {
  expect((await scene.entra.probe()).status).toBe(200);
  await scene.entra.each(people, (u) => scene.entra.provision(u));
  await scene.settle();
}

describe('unrecognised clients', () => {
  let scene: Scene;
  afterEach(() => scene?.close());

  it('scanners and a wrong token between cycles fire no credentials incident and no email, and show as unrecognised clients', async () => {
    scene = await startScene();
    await initialCycle(scene, users(5));

    // Between cycles: a scanner with no token, then someone trying a token of their own.
    scene.advance(10 * MIN);
    expect(await scan(scene, ['/', '/.env', '/wp-login.php', '/.env', '/'])).toEqual([
      401, 401, 401, 401, 401,
    ]);
    const other = stranger(scene);
    expect((await other.request('GET', '/Users')).status).toBe(401);
    expect((await other.lookup('admin@example.com')).status).toBe(401);
    expect((await other.request('GET', '/Groups')).status).toBe(401);
    await scene.settle();
    scene.advance(2 * MIN);
    await scene.tick();

    const credentials = await scene.api('/api/incidents?rule=credentials');
    expect(credentials.body.items).toEqual([]);
    expect(scene.emails()).toHaveLength(0);

    // Shown apart: how many, from where, for what.
    const seen = await scene.api('/api/unrecognised');
    expect(seen.status).toBe(200);
    expect(seen.body.count).toBe(8);
    expect(seen.body.addresses).toEqual([{ value: '127.0.0.1', count: 8 }]);
    expect(seen.body.paths).toContainEqual({ value: '/.env', count: 2 });
    expect(seen.body.paths).toContainEqual({ value: '/scim/v2/Users', count: 2 });
    expect(seen.body.recent[0]).toMatchObject({ httpStatus: 401, clientIp: '127.0.0.1' });
    // ... and as their own low rule, which routes to no receiver by default and leaves health alone.
    const low = await scene.api('/api/incidents?rule=unrecognisedClients');
    expect(low.body.items).toHaveLength(1);
    expect(low.body.items[0]).toMatchObject({ state: 'firing', severity: 'low', notifications: [] });
    expect(low.body.items[0].summary).toMatch(/8 requests from unrecognised clients/);
    expect(low.body.items[0].summary).not.toMatch(/quarantin/);
    const status = await scene.api('/api/status');
    expect(status.body.state).toBe('healthy');

    // The next cycle is Entra's as before; cycles never saw the strangers.
    scene.advance(30 * MIN);
    expect((await scene.entra.probe()).status).toBe(200);
    await scene.settle();
    const cycles = await scene.api('/api/cycles');
    expect(cycles.body.items.length).toBeGreaterThan(0);
    for (const c of cycles.body.items) expect(c).toMatchObject({ failures: 0, failing: false });
    expect(scene.emails()).toHaveLength(0);
  }, 60_000);

  it('six stranger lookups create no failing users', async () => {
    scene = await startScene();
    await initialCycle(scene, users(3));
    scene.advance(15 * MIN);
    const other = stranger(scene);
    for (let i = 1; i <= 6; i++) {
      expect((await other.lookup(`stranger${i}@example.com`)).status).toBe(401);
    }
    await scene.settle();

    const failing = await scene.api('/api/identities?failing=true');
    expect(failing.body.items).toEqual([]);
    const named = await scene.api('/api/identities?q=stranger');
    expect(named.body.items).toEqual([]);
    // Entra's own users are all there and fine.
    const all = await scene.api('/api/identities?type=User');
    expect(all.body.items).toHaveLength(3);
    expect((await scene.api('/api/unrecognised')).body.count).toBe(6);
    expect((await scene.api('/api/incidents?rule=credentials')).body.items).toEqual([]);
  }, 60_000);

  it('a token that never worked, at first setup, still fires credentials', async () => {
    scene = await startScene();
    // The admin pasted the token without its token- prefix: Test Connection's probe is rejected.
    scene.entra.token = scene.target.token.slice('token-'.length);
    expect((await scene.entra.probe()).status).toBe(401);
    // A scanner at the same time must not be what fires it, nor be counted in it.
    await scan(scene, ['/.env']);
    await scene.settle();

    const [email] = await scene.smtp.waitFor(1, 10_000);
    expect(email.subject).toMatch(/^\[FIRING critical\] Tanium SSO: .*probe was rejected \(401\)/);
    expect(email.text).toContain('token- prefix');
    const incident = (await scene.api('/api/incidents?rule=credentials')).body.items[0];
    expect(incident.evidence.count).toBe(1);
    expect(incident.evidence.samples.map((s: { path: string }) => s.path)).toEqual(['/scim/v2/Users']);
    expect((await scene.api('/api/unrecognised')).body.paths).toEqual([{ value: '/.env', count: 1 }]);
  }, 60_000);

  it("a provisioning token that starts failing (the app's secret rotated) fires credentials", async () => {
    scene = await startScene();
    await initialCycle(scene, users(5));
    scene.advance(40 * MIN);
    // The token was regenerated in the app; Entra still sends the one that worked.
    scene.target.setFaults({ tokenExpired: true });
    expect((await scene.entra.probe()).status).toBe(401);
    await scene.settle();
    const [email] = await scene.smtp.waitFor(1, 10_000);
    expect(email.subject).toMatch(/\[FIRING critical\] Tanium SSO: .*rejected \(401\)/);
    expect(email.text).toMatch(/same one the app accepted before/);
    expect((await scene.api('/api/unrecognised')).body.count).toBe(0);
  }, 60_000);

  it("Entra's Secret Token changed to a wrong one: its cycle probe fires credentials, naming the change", async () => {
    scene = await startScene();
    await initialCycle(scene, users(5));
    scene.advance(40 * MIN);
    scene.entra.token = `token-${'w'.repeat(58)}`;
    expect((await scene.entra.probe()).status).toBe(401);
    await scene.settle();
    const [email] = await scene.smtp.waitFor(1, 10_000);
    expect(email.subject).toMatch(/probe was rejected \(401\)/);
    expect(email.text).toMatch(/not the one the app last accepted/);
  }, 60_000);
});

describe('SCIMTAP_TRUSTED_CLIENTS and SCIMTAP_TRUSTED_PROXIES', () => {
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    while (closers.length > 0) await closers.pop()!();
  });

  async function start(env: Record<string, string>) {
    const upstream = await startUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/scim+json' });
      res.end(
        JSON.stringify({
          schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'],
          totalResults: 0,
          Resources: [],
        }),
      );
    });
    closers.push(upstream.close);
    const scimtap = await startTestScimtap(upstream.url, env, { periodicJobs: false });
    closers.push(scimtap.stop);
    const probe = `/Users?filter=${encodeURIComponent(`userName eq "${randomUUID()}"`)}`;
    return { upstream, scimtap, probe };
  }

  it('refuses an untrusted address with a SCIM 403 that never reaches the app, and records it as unrecognised', async () => {
    const { upstream, scimtap, probe } = await start({ SCIMTAP_TRUSTED_CLIENTS: '127.0.0.1/32, ::1' });
    const headers = { authorization: 'Bearer token-abc' };

    const refused = await send(`${scimtap.proxyUrl}${probe}`, { headers, localAddress: '127.0.0.2' });
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.body.toString())).toEqual({
      schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
      status: '403',
      detail: 'scimtap refused the request: client 127.0.0.2 is not in SCIMTAP_TRUSTED_CLIENTS',
    });
    // A POST with a body is refused the same way, body unread.
    const post = await send(`${scimtap.proxyUrl}/Users`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/scim+json' },
      body: JSON.stringify({ userName: 'x' }),
      localAddress: '127.0.0.2',
    });
    expect(post.status).toBe(403);
    expect(upstream.received).toHaveLength(0);

    const allowed = await send(`${scimtap.proxyUrl}${probe}`, { headers, localAddress: '127.0.0.1' });
    expect(allowed.status).toBe(200);
    expect(upstream.received).toHaveLength(1);

    scimtap.recorder.flush();
    const res = await send(`${scimtap.adminUrl}/api/unrecognised`);
    const body = JSON.parse(res.body.toString());
    expect(body).toMatchObject({ count: 2, refused: 2, addresses: [{ value: '127.0.0.2', count: 2 }] });
    // The refused requests are no credentials problem: nothing fires but the low rule's pending count.
    await scimtap.tick();
    const incidents = JSON.parse((await send(`${scimtap.adminUrl}/api/incidents`)).body.toString());
    expect(incidents.items.map((i: { rule: string }) => i.rule)).not.toContain('credentials');
  }, 30_000);

  it('believes X-Forwarded-For only from a trusted proxy', async () => {
    const { upstream, scimtap, probe } = await start({
      SCIMTAP_TRUSTED_CLIENTS: '203.0.113.0/24',
      SCIMTAP_TRUSTED_PROXIES: '127.0.0.1/32',
    });
    // Through the trusted load balancer: the client named by the header is Entra's range.
    const viaProxy = await send(`${scimtap.proxyUrl}${probe}`, {
      headers: { 'x-forwarded-for': '198.51.100.1, 203.0.113.5' },
      localAddress: '127.0.0.1',
    });
    expect(viaProxy.status).toBe(200);
    // The same header from anyone else is just a header: their own address decides.
    const forged = await send(`${scimtap.proxyUrl}${probe}`, {
      headers: { 'x-forwarded-for': '203.0.113.5' },
      localAddress: '127.0.0.2',
    });
    expect(forged.status).toBe(403);
    // A client's forged entry to the left of the one the proxy appended is not believed either.
    const spoofedChain = await send(`${scimtap.proxyUrl}${probe}`, {
      headers: { 'x-forwarded-for': '203.0.113.5, 198.51.100.1' },
      localAddress: '127.0.0.1',
    });
    expect(spoofedChain.status).toBe(403);
    expect(upstream.received).toHaveLength(1);

    scimtap.recorder.flush();
    const body = JSON.parse((await send(`${scimtap.adminUrl}/api/unrecognised`)).body.toString());
    expect(body.addresses).toEqual([
      { value: '127.0.0.2', count: 1 },
      { value: '198.51.100.1', count: 1 },
    ]);
    const ops = JSON.parse((await send(`${scimtap.adminUrl}/api/operations?limit=10`)).body.toString());
    const ips = ops.items.map((o: { clientIp: string }) => o.clientIp).sort();
    expect(ips).toEqual(['127.0.0.2', '198.51.100.1', '203.0.113.5']);
  }, 30_000);
});
