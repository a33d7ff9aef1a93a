import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../../server/demo/target/index.js';
import { send } from '../helpers/http.js';
import { type PostgresServer, startPostgres } from '../helpers/postgres.js';
import { startSmtp, type TestSmtp } from '../helpers/smtp.js';
import { type ScimtapProcess, sleep, spawnScimtap, stopProcess, until } from '../reliability/lib.js';
import { EntraClient, users } from './alerts-harness.js';

// Issue 13's failover acceptance item: two scimtap processes on one PostgreSQL database; the leader is killed
// with SIGKILL while a credentials incident fires. The other replica must take the lead within 15 s, keep the
// incident as the same one incident, and exactly one FIRING and one RESOLVED email must arrive in all.

const FIRING = '[FIRING critical] Tanium SSO: credentials rejected (401) — provisioning will be quarantined';
const RESOLVED =
  '[RESOLVED critical] Tanium SSO: credentials rejected (401) — provisioning will be quarantined';

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

interface Replica {
  name: string;
  process: ScimtapProcess;
}

const children: ScimtapProcess[] = [];
let target: Target | undefined;
afterEach(async () => {
  // Whatever happened, no scimtap process outlives the test (a leftover one would keep the lead and send).
  for (const c of children.splice(0)) await stopProcess(c);
  await target?.close();
  target = undefined;
});

// biome-ignore lint/suspicious/noExplicitAny: API JSON, read field by field
async function api(replica: Replica, path: string): Promise<any> {
  const res = await send(`${replica.process.adminUrl}${path}`);
  if (res.status !== 200) throw new Error(`${replica.name} ${path}: ${res.status}`);
  return JSON.parse(res.body.toString('utf8'));
}

/** The replica named by `replication.leader` in `from`'s /api/health, or undefined while none leads. */
async function leaderSeenBy(from: Replica): Promise<string | undefined> {
  const health = await api(from, '/api/health').catch(() => null);
  return health?.replication?.leader ?? undefined;
}

/**
 * Every live replica has written what it recorded, and its log is derived. Two recorders write on their own
 * schedules: without this, a success recorded by one could land in the log after a 401 recorded by the other.
 */
async function caughtUp(live: Replica[]): Promise<void> {
  await until(
    async () => {
      const health = await Promise.all(live.map((r) => api(r, '/api/health')));
      return health.every((h) => h.recorder.queued === 0 && h.derivation?.operations === 0);
    },
    15_000,
    'every replica to write and derive what it recorded',
  );
}

async function credentialsIncidents(replica: Replica) {
  return (await api(replica, '/api/incidents?rule=credentials')).items as {
    id: number;
    state: string;
    evidence: { count: number };
    notifications: { event: string; state: string }[];
  }[];
}

const events = (incident: { notifications: { event: string; state: string }[] }) =>
  incident.notifications.map((n) => [n.event, n.state]);

/** Both replicas as processes, on one database, sharing the demo target, the SMTP server and the rules. */
async function startReplicas(): Promise<Replica[]> {
  target = await startTarget();
  const dir = mkdtempSync(join(tmpdir(), 'scimtap-failover-'));
  const configPath = join(dir, 'config.json');
  // A short recovery, so the resolved email follows the fix within seconds rather than a minute.
  writeFileSync(configPath, JSON.stringify({ rules: { recoverySeconds: 3 } }));
  const env = {
    SCIMTAP_DB: await server.createDatabase(),
    SCIMTAP_UPSTREAM: new URL(target.url).origin,
    SCIMTAP_APP_NAME: 'Tanium SSO',
    SCIMTAP_NOTIFY_TO: 'ops@example.com',
    SCIMTAP_SMTP_URL: smtp.url,
    SCIMTAP_MAIL_FROM: 'scimtap@example.com',
    SCIMTAP_CONFIG: configPath,
  };
  const replicas: Replica[] = [];
  // One after the other: the first applies the migrations (the second would wait for its lock anyway).
  for (const name of ['a', 'b']) {
    const proc = await spawnScimtap({ ...env, SCIMTAP_REPLICA: name });
    children.push(proc);
    replicas.push({ name, process: proc });
  }
  return replicas;
}

/** The FIRING email, and the incident once its sender has marked that email sent. */
async function firedOnce(reader: Replica) {
  const [firing] = await smtp.waitFor(1, 15_000);
  expect(firing!.subject).toBe(FIRING);
  // The email arrived; wait until its sender has also marked it sent. Killing in between would leave the row
  // `sending`, and the outbox is at-least-once by design (pg/outbox.ts): it would be sent again.
  const fired = await until(
    async () => {
      const items = await credentialsIncidents(reader);
      return items.length === 1 && items[0]!.notifications[0]?.state === 'sent' ? items[0] : undefined;
    },
    10_000,
    'the firing notification marked sent',
  );
  expect([fired.state, events(fired)]).toEqual(['firing', [['first', 'sent']]]);
  return { firing: firing!, fired };
}

/** kill -9 the leader; the survivor must say it leads within 15 s (the lease's promise, pg/lease.ts). */
async function killLeader(leader: Replica, survivor: Replica): Promise<void> {
  // Its advisory lock's session ends with its socket, which the kernel closes with the process.
  leader.process.child.kill('SIGKILL');
  const killedAt = performance.now();
  await leader.process.exited;
  await until(async () => (await leaderSeenBy(survivor)) === survivor.name, 15_000, 'the survivor to lead');
  const takeoverMs = performance.now() - killedAt;
  console.log(`replica ${survivor.name} reported itself leader ${Math.round(takeoverMs)} ms after the kill`);
  expect(takeoverMs).toBeLessThan(15_000);
}

/** Runs `scenario`; when it fails, prints what each replica logged: the evidence of what went wrong. */
async function withLogs(scenario: () => Promise<void>): Promise<void> {
  try {
    await scenario();
  } catch (err) {
    for (const c of children) console.log(`--- scimtap pid ${c.pid}:\n${c.output()}`);
    throw err;
  }
}

/** The acceptance scene, phase by phase. */
async function killTheLeaderWhileFiring(): Promise<void> {
  const replicas = await startReplicas();
  const leaderName = await until(() => leaderSeenBy(replicas[0]!), 15_000, 'a leader');
  const leader = replicas.find((r) => r.name === leaderName)!;
  const survivor = replicas.find((r) => r.name !== leaderName)!;
  expect(leader, `leader ${leaderName}`).toBeDefined();
  expect(await leaderSeenBy(survivor)).toBe(leaderName);

  // A load balancer without sticky sessions: each call to the next live replica.
  let live = [...replicas];
  let next = 0;
  const entra = new EntraClient(() => live[next++ % live.length]!.process.proxyUrl, target!.token);
  const people = users(8, 'failover');

  // The initial cycle provisions everyone through both replicas.
  expect((await entra.probe()).status).toBe(200);
  await entra.each(people, (u) => entra.provision(u), 4);
  for (const u of people.slice(0, 2)) expect((await entra.update(u)).status).toBe(200);
  await caughtUp(live);
  expect(smtp.messages).toHaveLength(0);

  // The token expires: three 401s in a row, spread over both replicas, fire the credentials incident.
  target!.setFaults({ tokenExpired: true });
  for (const u of people.slice(2, 5)) expect((await entra.update(u)).status).toBe(401);
  const { firing, fired } = await firedOnce(survivor);

  live = [survivor];
  await killLeader(leader, survivor);

  // The cycle goes on through the survivor, still rejected: the same incident, no second FIRING email.
  for (const u of people.slice(5, 8)) expect((await entra.update(u)).status).toBe(401);
  await caughtUp(live);
  // The survivor's evaluation (after the burst has paused 500 ms) carries the streak on: six in a row, in the
  // incident the dead leader opened.
  const during = await until(
    async () => {
      const items = await credentialsIncidents(survivor);
      return items.some((i) => i.evidence.count === 6) && items;
    },
    10_000,
    "the survivor's evaluation to count six 401s in a row",
  );
  expect(during.map((i) => [i.id, i.state])).toEqual([[fired.id, 'firing']]);
  expect(smtp.messages.map((m) => m.subject)).toEqual([FIRING]);

  // The token is fixed: the rest of the cycle runs clean, and the incident resolves after its recovery.
  target!.setFaults({ tokenExpired: false });
  expect((await entra.probe()).status).toBe(200);
  for (const u of people) expect((await entra.update(u)).status).toBe(200);
  const fixedAt = performance.now();
  // Recovery (3 s) needs an evaluation after it: the burst's, else the survivor's 15 s tick.
  const [, resolved] = await smtp.waitFor(2, 45_000);
  console.log(`resolved email ${Math.round(performance.now() - fixedAt)} ms after the token was fixed`);
  expect(resolved!.subject).toBe(RESOLVED);
  expect(resolved!.inReplyTo).toBe(firing.messageId);
  // Nothing more follows: no repeat from the dead leader's outbox rows, no second incident.
  await sleep(3_000);
  expect(smtp.messages.map((m) => m.subject)).toEqual([FIRING, RESOLVED]);

  const after = await credentialsIncidents(survivor);
  expect(after).toHaveLength(1);
  expect([after[0]!.id, after[0]!.state, events(after[0]!)]).toEqual([
    fired.id,
    'resolved',
    [
      ['first', 'sent'],
      ['resolved', 'sent'],
    ],
  ]);
}

describe('failover between two scimtap processes on PostgreSQL', () => {
  it(
    'kill -9 the leader while a credentials incident fires: the other takes over within 15 s, one incident, one FIRING and one RESOLVED email',
    () => withLogs(killTheLeaderWhileFiring),
    90_000,
  );
});
