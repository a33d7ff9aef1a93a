import http from 'node:http';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../../server/demo/target/index.js';
import { type Scimtap, startScimtap } from '../../server/main.js';
import { send, startUpstream } from '../helpers/http.js';
import { loadFileConfig } from '../helpers/scimtap.js';
import { startSmtp, type TestSmtp } from '../helpers/smtp.js';
import { EntraClient, MIN, T0, users } from './alerts-harness.js';

// Two apps in one scimtap (issue 14), each with its own real SCIM upstream (the demo target, one per app):
// interleaved traffic on one listener gives two cycle histories, and a credentials failure on one app fires one
// incident and one email for that app only.

describe('two apps on one listener', () => {
  const clock = { now: T0 };
  let smtp: TestSmtp;
  let tanium: Target;
  let hr: Target;
  let scimtap: Scimtap;
  let entraTanium: EntraClient;
  let entraHr: EntraClient;
  // biome-ignore lint/suspicious/noExplicitAny: API JSON, asserted field by field
  const api = async (path: string): Promise<any> =>
    JSON.parse((await send(`${scimtap.adminUrl}/api${path}`)).body.toString());
  const settle = async () => {
    for (const p of Object.values(scimtap.apps)) {
      p.recorder.flush();
      await p.alerts.tick();
    }
  };

  beforeAll(async () => {
    smtp = await startSmtp();
    tanium = await startTarget();
    hr = await startTarget();
    const { config } = loadFileConfig(
      {
        notifyTo: 'idm-oncall@example.com',
        apps: [
          {
            id: 'tanium',
            name: 'Tanium SSO',
            upstream: new URL(tanium.url).origin,
            notifyTo: ['tanium-owner@example.com'],
          },
          { id: 'acme-hr', name: 'Acme HR', upstream: new URL(hr.url).origin },
        ],
      },
      { SCIMTAP_SMTP_URL: smtp.url, SCIMTAP_MAIL_FROM: 'scimtap@example.com' },
    );
    scimtap = await startScimtap(config, {
      clock: () => clock.now,
      logger: pino({ level: 'silent' }),
      periodicJobs: false,
    });
    entraTanium = new EntraClient(() => `${scimtap.proxyUrl}/tanium`, tanium.token);
    entraHr = new EntraClient(() => `${scimtap.proxyUrl}/acme-hr`, hr.token);
  });
  afterAll(async () => {
    await scimtap?.stop();
    await tanium?.close();
    await hr?.close();
    await smtp?.close();
  });

  it('gives interleaved traffic of two apps two separate cycle histories', async () => {
    const people = users(12);
    // Both jobs run at once, as Entra's jobs for two apps do: their calls interleave on the one listener.
    await Promise.all([
      entraTanium.probe().then(() => entraTanium.each(people, (u) => entraTanium.provision(u), 4)),
      entraHr.probe().then(() => entraHr.each(people.slice(0, 5), (u) => entraHr.provision(u), 4)),
    ]);
    await settle();
    // Both jobs come back 40 minutes later (a job that skipped its cycle would rightly be called stalled),
    // with different work: three updates for Tanium, one for Acme HR.
    clock.now += 40 * MIN;
    await Promise.all([entraTanium.probe(), entraHr.probe()]);
    for (const u of people.slice(0, 3)) expect((await entraTanium.update(u)).status).toBe(200);
    expect((await entraHr.update(people[0])).status).toBe(200);
    await settle();

    const taniumCycles = (await api('/cycles?app=tanium')).items;
    const hrCycles = (await api('/cycles?app=acme-hr')).items;
    expect(taniumCycles).toHaveLength(2);
    expect(hrCycles).toHaveLength(2);
    // lookup + create per user, plus the probe: each app counts its own calls only
    expect(taniumCycles[1].total).toBe(1 + 12 * 2);
    expect(hrCycles[1].total).toBe(1 + 5 * 2);
    expect(taniumCycles[0].total).toBe(1 + 3);
    expect(hrCycles[0].total).toBe(1 + 1);
    expect((await api('/identities?app=acme-hr&type=User')).items).toHaveLength(5);
    expect((await api('/identities?app=tanium&type=User')).items).toHaveLength(12);
    // The targets saw only their own app's calls.
    expect(tanium.counts().users).toBe(12);
    expect(hr.counts().users).toBe(5);

    // The CSV of one app names it in its first column, on every row.
    const csv = (await send(`${scimtap.adminUrl}/api/export.csv?app=acme-hr`)).body
      .toString()
      .trim()
      .split('\r\n');
    expect(csv[0].startsWith('app,id,')).toBe(true);
    expect(csv).toHaveLength(1 + (1 + 5 * 2) + (1 + 1));
    expect(csv.slice(1).every((line) => line.startsWith('acme-hr,'))).toBe(true);

    const { apps } = await api('/apps');
    expect(apps.map((a: { id: string }) => a.id).sort()).toEqual(['acme-hr', 'tanium']);
    const row = apps.find((a: { id: string }) => a.id === 'tanium');
    expect(row).toMatchObject({ name: 'Tanium SSO', tenantPath: '/tanium/', lastCycle: { total: 4 } });
    expect(row.failuresPerCycle).toHaveLength(2);
  });

  it('asks which app when an API request names none, and never mixes them', async () => {
    const res = await send(`${scimtap.adminUrl}/api/cycles`);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body.toString()).error).toBe('appRequired');
    expect((await send(`${scimtap.adminUrl}/api/cycles?app=nope`)).status).toBe(404);
    const metrics = (await send(`${scimtap.adminUrl}/metrics`)).body.toString();
    expect(metrics).toMatch(/^scimtap_cycles\{app="tanium"\} 2$/m);
    expect(metrics).toMatch(/^scimtap_cycles\{app="acme-hr"\} 2$/m);
  });

  it('fires one incident and one email for the app whose credentials fail, naming it, and nothing for the other', async () => {
    clock.now += 40 * MIN;
    const people = users(12);
    await entraHr.probe();
    await entraTanium.probe();
    tanium.setFaults({ tokenExpired: true });
    for (const u of people.slice(0, 4)) {
      expect((await entraTanium.update(u)).status).toBe(401);
      // Acme HR's job goes on meanwhile, and its calls succeed.
      expect((await entraHr.update(people[0])).status).toBe(200);
    }
    const [email] = await smtp.waitFor(1, 10_000);
    await settle();
    expect(smtp.messages.map((m) => m.subject)).toHaveLength(1);
    expect(email.subject).toBe(
      '[FIRING critical] Tanium SSO: credentials rejected (401) — provisioning will be quarantined',
    );
    expect(email.to).toMatchObject({ text: 'tanium-owner@example.com' });
    const text = email.text ?? '';
    expect(text).toMatch(/\/apps\/tanium\/incidents\/\d+/);
    expect(text).toContain('/api/silences?app=tanium');
    expect(
      (await api('/incidents?app=tanium&state=firing')).items.map((i: { rule: string }) => i.rule),
    ).toEqual(['credentials']);
    expect((await api('/incidents?app=acme-hr')).items).toEqual([]);
    const { apps } = await api('/apps');
    // riskiest first
    expect(apps[0]).toMatchObject({ id: 'tanium', state: 'quarantineSuspected' });
    expect(apps[0].firingIncidents.map((i: { rule: string }) => i.rule)).toContain('credentials');
    expect(apps[1]).toMatchObject({ id: 'acme-hr', firingIncidents: [] });
  });
});

// Isolation (issue 14): app B's upstream hangs, with more of B's requests waiting on it than one client's share
// of a pool; app A, on the same listener and from the same client, goes on answering at once. Shared sockets or
// slots would make A's requests wait for B's (5 s in the client's queue, then 429). The latency target itself
// (A's p99 at 100 req/s within 1 ms) is a benchmark, `npm run bench -- apps`, not a timed test.
describe('one app whose upstream hangs', () => {
  it("leaves the other app's requests answered at once, every one", async () => {
    const fast = await startUpstream((_r, res) => {
      res.writeHead(200, { 'content-type': 'application/scim+json' });
      res.end(
        '{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":0,"Resources":[]}',
      );
    });
    const held: http.ServerResponse[] = [];
    let hang = true;
    const slow = await startUpstream((_r, res) => {
      if (hang) held.push(res);
      else res.end('{}');
    });
    const { config } = loadFileConfig(
      {
        apps: [
          { id: 'a', name: 'App A', upstream: fast.url },
          { id: 'b', name: 'App B', upstream: slow.url },
        ],
      },
      { SCIMTAP_UPSTREAM_TIMEOUT_MS: '120000' },
    );
    const scimtap = await startScimtap(config, { logger: pino({ level: 'silent' }) });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
    const { port } = new URL(scimtap.proxyUrl);
    const get = (path: string) =>
      new Promise<{ status: number; ms: number }>((resolve, reject) => {
        const t = performance.now();
        http
          .get({ port, path, agent, headers: { authorization: 'Bearer t' } }, (res) => {
            res.resume();
            res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - t }));
          })
          .on('error', reject);
      });
    try {
      // 300 of B's requests wait on its hung upstream: more than a client's share (64) and a pool's worth.
      const stuck = Array.from({ length: 300 }, () => get('/b/Users').catch(() => null));
      await new Promise((r) => setTimeout(r, 500));
      expect(held.length).toBe(64);
      // A, meanwhile, at 100 req/s for 3 s, from the same client address.
      const answers: Promise<{ status: number; ms: number }>[] = [];
      const start = performance.now();
      for (let i = 0; i < 300; i++) {
        const wait = start + i * 10 - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        answers.push(get('/a/Users?filter=userName%20eq%20%22x%22'));
      }
      const a = await Promise.all(answers);
      expect(a.filter((r) => r.status !== 200)).toEqual([]);
      const worst = Math.max(...a.map((r) => r.ms));
      console.log(`A's latency while B hangs: worst ${worst.toFixed(1)} ms over ${a.length} requests`);
      // Far below the 5 s a request over its client's share waits before its 429: A never queued behind B.
      expect(worst).toBeLessThan(1_000);
      hang = false;
      for (const res of held.splice(0)) res.end('{}');
      await Promise.all(stuck);
    } finally {
      hang = false;
      for (const res of held.splice(0)) res.end('{}');
      agent.destroy();
      await scimtap.stop();
      await fast.close();
      await slow.close();
    }
  }, 60_000);
});
