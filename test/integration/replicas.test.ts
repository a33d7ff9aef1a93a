import pg from 'pg';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config.js';
import { startTarget, type Target } from '../../server/demo/target/index.js';
import { type Scimtap, type StartOptions, startScimtap } from '../../server/main.js';
import { send } from '../helpers/http.js';
import { type PostgresServer, startPostgres } from '../helpers/postgres.js';
import { startSmtp, type TestSmtp } from '../helpers/smtp.js';
import { sleep, until } from '../reliability/lib.js';
import { EntraClient, users } from './alerts-harness.js';

// Several scimtap replicas on one PostgreSQL database (issue 13), behind a round-robin client as a load
// balancer without sticky sessions would spread Entra's calls: every replica forwards and records, exactly one
// derives and evaluates, any one answers the dashboard, and an email is sent once whichever replica dies.

let server: PostgresServer;
let smtp: TestSmtp;
beforeAll(async () => {
  server = await startPostgres();
  smtp = await startSmtp();
}, 60_000);
afterAll(async () => {
  await smtp?.close();
  await server?.stop();
});

// biome-ignore lint/suspicious/noExplicitAny: API JSON, read field by field
async function api(adminUrl: string, path: string): Promise<any> {
  const res = await send(`${adminUrl}${path}`);
  expect(res.status, path).toBe(200);
  return JSON.parse(res.body.toString('utf8'));
}

async function count(url: string, sql: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return Number((await client.query(sql)).rows[0].n);
  } finally {
    await client.end();
  }
}

/** Counts the requests the client sends from now on. */
function counting(entra: EntraClient): () => number {
  let sent = 0;
  const original = entra.request.bind(entra);
  entra.request = (method, path, body) => {
    sent++;
    return original(method, path, body);
  };
  return () => sent;
}

describe('two replicas in one process', () => {
  const running: Scimtap[] = [];
  let target: Target;
  afterEach(async () => {
    for (const s of running.splice(0)) await s.stop();
    await target?.close();
  });

  async function replicas(url: string, env: Record<string, string> = {}, options: StartOptions = {}) {
    target = await startTarget();
    for (const name of ['a', 'b']) {
      const config = loadConfig({
        SCIMTAP_UPSTREAM: new URL(target.url).origin,
        SCIMTAP_LISTEN: '127.0.0.1:0',
        SCIMTAP_ADMIN_LISTEN: '127.0.0.1:0',
        SCIMTAP_DB: url,
        SCIMTAP_REPLICA: name,
        ...env,
      });
      running.push(await startScimtap(config, { logger: pino({ level: 'silent' }), ...options }));
    }
    const [a, b] = running;
    const leader = await until(
      () => running.find((s) => s.postgres!.consumer.leading && s.postgres!.alerts.evaluating()),
      15_000,
      'a leader',
    );
    let next = 0;
    // A load balancer without sticky sessions: each call to the next replica.
    const entra = new EntraClient(() => running[next++ % running.length].proxyUrl, target.token);
    return { a: a!, b: b!, leader, entra };
  }

  it('takes a whole Entra-shaped cycle through both: one cycle, every outcome, no operation lost or doubled', async () => {
    const url = await server.createDatabase();
    const { a, b, leader, entra } = await replicas(url);
    const requests = counting(entra);
    const people = users(40);

    expect((await entra.probe()).status).toBe(200);
    await entra.each(people, (u) => entra.provision(u), 8);
    await entra.each(people.slice(0, 10), (u) => entra.update(u), 8);
    await entra.each(people.slice(10, 13), (u) => entra.disable(u), 8);
    for (const s of running) await s.recorder.flush();
    await leader.recorder.flush();

    expect(await count(url, 'select count(*) as n from operations')).toBe(requests());
    expect(await count(url, 'select count(distinct id) as n from operations')).toBe(requests());
    // Both replicas recorded: the round robin reached each.
    const health = await Promise.all([api(a.adminUrl, '/api/health'), api(b.adminUrl, '/api/health')]);
    expect(health.map((h) => h.recorder.written).every((n: number) => n > 0)).toBe(true);
    expect(health[0].recorder.written + health[1].recorder.written).toBe(requests());
    // Every replica says who leads, and lists both with their recorders.
    for (const h of health) {
      expect(h.replication.leader).toBe(leader === a ? 'a' : 'b');
      expect(h.replication.replicas.map((r: { replica: string }) => r.replica).sort()).toEqual(['a', 'b']);
      expect(h.derivation.operations).toBe(0);
    }

    // /metrics on each: every series labelled by its replica, and which one leads.
    for (const [s, name] of [
      [a, 'a'],
      [b, 'b'],
    ] as const) {
      const metrics = (await send(`${s.adminUrl}/metrics`)).body.toString('utf8');
      const leading = s === leader ? 1 : 0;
      expect(metrics).toMatch(
        new RegExp(`^scimtap_leader\\{[^}]*replica="${name}"[^}]*\\} ${leading}$`, 'm'),
      );
      const series = metrics.split('\n').filter((l) => l && !l.startsWith('#'));
      expect(series.every((l) => l.includes(`replica="${name}"`))).toBe(true);
    }

    // Either replica's dashboard API answers the same: one cycle, and each user's outcome.
    for (const s of [a, b]) {
      const cycles = await api(s.adminUrl, '/api/cycles');
      expect(cycles.items).toHaveLength(1);
      const cycle = cycles.items[0];
      const identities = await api(s.adminUrl, '/api/identities?limit=200');
      const names = identities.items.map((i: { name: string }) => i.name).sort();
      expect(names).toEqual([...people].sort());
      const outcomes = await api(s.adminUrl, `/api/cycles/${cycle.id}/outcomes?limit=200`);
      // biome-ignore lint/suspicious/noExplicitAny: API JSON
      const byName = new Map(outcomes.items.map((o: any) => [o.name, o]));
      expect(byName.size).toBe(people.length);
      for (const [i, u] of people.entries()) {
        // biome-ignore lint/suspicious/noExplicitAny: API JSON
        const o = byName.get(u) as any;
        // Lookup + create; then an update for the first ten, a disable for the next three.
        expect([o.outcome, o.failures, o.operations, o.lastOperation], u).toEqual([
          'success',
          0,
          i < 13 ? 3 : 2,
          i < 10 ? 'update' : i < 13 ? 'disable' : 'create',
        ]);
      }
    }
  }, 120_000);

  it('keeps forwarding while the database restarts, and the recording catches up', async () => {
    const url = await server.createDatabase();
    const { a, b, entra } = await replicas(url);
    const requests = counting(entra);
    const people = users(10, 'restart');
    await entra.each(people, (u) => entra.provision(u), 4);
    let sent = 0;
    let failed = 0;
    let stop = false;
    const load = (async () => {
      while (!stop) {
        const r = await entra.probe();
        sent++;
        if (r.status !== 200) failed++;
        await sleep(5);
      }
    })();
    await sleep(500);
    await server.down();
    await sleep(3_000);
    const during = sent;
    await server.up();
    await sleep(1_000);
    stop = true;
    await load;
    // Forwarding never stopped, and no answer was scimtap's own.
    expect(failed).toBe(0);
    expect(during).toBeGreaterThan(50);
    // The recorders said they were failing, then caught up: every request recorded once.
    await until(
      async () => {
        for (const s of [a, b]) await s.recorder.flush();
        const h = await Promise.all([api(a.adminUrl, '/api/health'), api(b.adminUrl, '/api/health')]);
        return h.every((x) => x.recorder.queued === 0 && !x.recorder.failing);
      },
      30_000,
      'the recorders to catch up',
    );
    const dropped = a.recorder.stats().dropped + b.recorder.stats().dropped;
    expect(dropped).toBe(0);
    expect(await count(url, 'select count(*) as n from operations')).toBe(requests());
  }, 120_000);

  it('counts what its queue cannot keep while the database is down, and says so once it is back', async () => {
    const url = await server.createDatabase();
    const { a, b, entra } = await replicas(url, {}, { recorderMaxQueue: 20 });
    const requests = counting(entra);
    await server.down();
    let failed = 0;
    for (let i = 0; i < 100; i++) if ((await entra.probe()).status !== 200) failed++;
    await server.up();
    expect(failed).toBe(0);
    for (const s of [a, b]) await s.recorder.flush();
    const dropped = a.recorder.stats().dropped + b.recorder.stats().dropped;
    expect(dropped).toBeGreaterThan(0);
    // Nothing unaccounted for: each request was written or counted as dropped.
    expect((await count(url, 'select count(*) as n from operations')) + dropped).toBe(requests());
    // As with a full disk: the leader's recorderFailing rule says what was lost.
    const incident = await until(
      async () => (await api(a.adminUrl, '/api/incidents?rule=recorderFailing')).items[0],
      30_000,
      'a recorderFailing incident',
    );
    expect(incident).toMatchObject({ rule: 'recorderFailing', severity: 'critical', state: 'firing' });
    expect(incident.summary).toMatch(/dropped \d+ operations/);
  }, 120_000);

  it('starts and forwards while the database is unreachable, and records what it queued once it is back', async () => {
    const url = await server.createDatabase();
    target = await startTarget();
    await server.down();
    const config = loadConfig({
      SCIMTAP_UPSTREAM: new URL(target.url).origin,
      SCIMTAP_LISTEN: '127.0.0.1:0',
      SCIMTAP_ADMIN_LISTEN: '127.0.0.1:0',
      SCIMTAP_DB: url,
      SCIMTAP_REPLICA: 'alone',
    });
    const s = await startScimtap(config, { logger: pino({ level: 'silent' }) });
    running.push(s);
    const entra = new EntraClient(() => s.proxyUrl, target.token);
    for (let i = 0; i < 20; i++) expect((await entra.probe()).status).toBe(200);
    const down = await api(s.adminUrl, '/api/health');
    expect(down).toMatchObject({ status: 'degraded', db: 'error', recorder: { written: 0, dropped: 0 } });
    await server.up();
    // The migrations are applied on the next try (every 5 s), then the queue drains and the replica leads.
    await until(
      async () => (await count(url, 'select count(*) as n from operations').catch(() => 0)) === 20,
      30_000,
      'the queued exchanges',
    );
    await until(() => s.postgres!.consumer.leading, 15_000, 'the lead');
    await s.recorder.flush();
    const cycles = await api(s.adminUrl, '/api/cycles');
    expect(cycles.items.length).toBeGreaterThan(0);
  }, 120_000);

  it('stops at startup when the database refuses the settings, saying why without the password', async () => {
    const url = new URL(server.url);
    url.pathname = '/no_such_database';
    url.username = 'postgres';
    url.password = 'hunter2hunter2';
    const config = loadConfig({
      SCIMTAP_UPSTREAM: 'http://127.0.0.1:9',
      SCIMTAP_LISTEN: '127.0.0.1:0',
      SCIMTAP_ADMIN_LISTEN: '127.0.0.1:0',
      SCIMTAP_DB: url.toString(),
    });
    const started = startScimtap(config, { logger: pino({ level: 'silent' }) });
    await expect(started).rejects.toThrow(
      /^SCIMTAP_DB \(postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/no_such_database\): cannot open the PostgreSQL store: database "no_such_database" does not exist$/,
    );
  });

  it('sends from the leader alone: a test email queued on another replica is sent by the leader, once', async () => {
    const url = await server.createDatabase();
    const { a, b, leader } = await replicas(url, {
      SCIMTAP_SMTP_URL: smtp.url,
      SCIMTAP_NOTIFY_TO: 'ops@example.com',
      SCIMTAP_MAIL_FROM: 'scimtap@example.com',
    });
    const follower = leader === a ? b : a;
    const before = smtp.messages.length;
    const res = await send(`${follower.adminUrl}/api/notifications/test`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ requestedBy: 'replicas test' }),
    });
    expect(res.status).toBe(202);
    // The follower does not send, even when asked to deliver what is due.
    expect(await follower.postgres!.alerts.outbox.deliverDue()).toMatchObject({ sent: 0 });
    // The leader's poll (every 2 s) finds it and sends it.
    const received = await smtp.waitFor(before + 1, 10_000);
    expect(received.at(-1)?.text).toContain('replicas test');
    await sleep(3_000);
    expect(smtp.messages.length).toBe(before + 1);
    const id = JSON.parse(res.body.toString('utf8')).notification.id;
    const row = await api(leader.adminUrl, `/api/notifications/${id}`);
    expect(row).toMatchObject({ state: 'sent', attempts: 1 });
  }, 60_000);
});
