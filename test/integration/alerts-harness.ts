import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ParsedMail } from 'mailparser';
import pino from 'pino';
import { expect } from 'vitest';
import { loadConfig, type RulesConfig } from '../../server/config.js';
import { startTarget, type Target, type TargetFaults } from '../../server/demo/target/index.js';
import { type Scimtap, type StartOptions, startScimtap } from '../../server/main.js';
import { send } from '../helpers/http.js';
import type { PostgresServer } from '../helpers/postgres.js';
import { startSmtp, type TestSmtp } from '../helpers/smtp.js';
import { until } from '../reliability/lib.js';

export const MIN = 60_000;
export const HOUR = 60 * MIN;
export const T0 = Date.UTC(2025, 0, 6, 9, 0, 0);

/**
 * One acceptance scene: a real SMTP server, the demo SCIM target (Tanium-like, with fault knobs), and a real
 * scimtap between an Entra-like client and the target, on a temp database, driven by a fake clock. Periodic
 * jobs are off: `tick()` is the detection tick and outbox retry; evaluation after each burst of batches (once
 * the recorded traffic has paused) stays on.
 */
export interface Scene {
  clock: { now: number };
  advance(ms: number): void;
  target: Target;
  smtp: TestSmtp;
  scimtap: Scimtap;
  entra: EntraClient;
  /** write what the proxy recorded now, and derive it (the recorder also flushes on its own every 100 ms) */
  flush(): Promise<void>;
  tick(): ReturnType<Scimtap['tick']>;
  /** flush, then tick */
  settle(): ReturnType<Scimtap['tick']>;
  /** a provisioning cycle that creates `people`: Entra's probe, a create for each, then settle */
  provisionCycle(people: string[]): ReturnType<Scimtap['tick']>;
  emails(): ParsedMail[];
  /** subjects of the emails received so far */
  subjects(): string[];
  // biome-ignore lint/suspicious/noExplicitAny: API JSON, asserted field by field in the tests
  api<T = any>(
    path: string,
    init?: { method?: string; body?: unknown },
  ): Promise<{ status: number; body: T }>;
  /** stop scimtap and start it again on the same database (a process restart) */
  restart(start?: Partial<StartOptions>): Promise<void>;
  /** stop the target (connections refused) and start it again on the same port */
  targetDown(): Promise<void>;
  targetUp(): Promise<void>;
  close(): Promise<void>;
}

export interface SceneOptions {
  rules?: Partial<RulesConfig>;
  faults?: Partial<TargetFaults>;
  env?: Record<string, string>;
  /** more keys for the JSON config file (e.g. `receivers`) */
  config?: Record<string, unknown>;
  /** the fake clock's start (default T0); a test against a real Alertmanager needs the real time */
  t0?: number;
  /** extra startScimtap options (e.g. a tiny recorder queue) */
  start?: Partial<StartOptions>;
  /** SCIMTAP_UPSTREAM from the target's SCIM URL; default its origin (Entra's Tenant URL then ends in /scim/v2) */
  upstream?: (targetUrl: string) => string;
  /** run on a fresh database of this PostgreSQL server instead of a SQLite file (the same scene, either store) */
  postgres?: PostgresServer;
}

export async function startScene(options: SceneOptions = {}): Promise<Scene> {
  const clock = { now: options.t0 ?? T0 };
  const dir = mkdtempSync(join(tmpdir(), 'scimtap-alerts-'));
  const smtp = await startSmtp();
  let target = await startTarget({ faults: options.faults });
  const token = target.token;
  const targetPort = target.port;
  const configPath = join(dir, 'config.json');
  writeFileSync(configPath, JSON.stringify({ rules: options.rules ?? {}, ...options.config }));
  const config = loadConfig({
    // The Tenant URL Entra calls is scimtap's listener + /scim/v2, as it would be the app's.
    SCIMTAP_UPSTREAM: options.upstream ? options.upstream(target.url) : new URL(target.url).origin,
    SCIMTAP_LISTEN: '127.0.0.1:0',
    SCIMTAP_ADMIN_LISTEN: '127.0.0.1:0',
    SCIMTAP_DB: options.postgres ? await options.postgres.createDatabase() : join(dir, 'scimtap.db'),
    SCIMTAP_APP_NAME: 'Tanium SSO',
    SCIMTAP_NOTIFY_TO: 'ops@example.com',
    SCIMTAP_SMTP_URL: smtp.url,
    SCIMTAP_MAIL_FROM: 'scimtap@example.com',
    SCIMTAP_CONFIG: configPath,
    ...options.env,
  });
  const start = async (more: Partial<StartOptions> = {}) => {
    const started = await startScimtap(config, {
      clock: () => clock.now,
      logger: pino({ level: 'silent' }),
      periodicJobs: false,
      ...options.start,
      ...more,
    });
    // On PostgreSQL the one replica takes the lead, rebuilds detection and loads the incidents, then derives.
    const pg = started.postgres;
    if (pg) await until(() => pg.consumer.leading && pg.alerts.evaluating(), 15_000, 'the lead');
    return started;
  };
  let scimtap = await start();
  const entra = new EntraClient(() => scimtap.proxyUrl, token);
  const follower = followTheTraffic(options.postgres, () => scimtap);

  const scene: Scene = {
    clock,
    advance(ms) {
      clock.now += ms;
    },
    get target() {
      return target;
    },
    smtp,
    get scimtap() {
      return scimtap;
    },
    entra,
    flush: async () => {
      await scimtap.recorder.flush();
    },
    tick: () => scimtap.tick(),
    async settle() {
      await scimtap.recorder.flush();
      return scimtap.tick();
    },
    async provisionCycle(people) {
      await entra.probe();
      await entra.each(people, (u) => entra.provision(u));
      return scene.settle();
    },
    emails: () => smtp.messages,
    subjects: () => smtp.messages.map((m) => m.subject ?? ''),
    async api(path, init = {}) {
      const res = await send(`${scimtap.adminUrl}${path}`, {
        method: init.method ?? 'GET',
        // as the dashboard does: state-changing calls are JSON, with a body or not (server/api/guard.ts)
        headers: (init.method ?? 'GET') === 'GET' ? {} : { 'content-type': 'application/json' },
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
      });
      return { status: res.status, body: JSON.parse(res.body.toString('utf8') || 'null') };
    },
    async restart(more) {
      await follower.pause();
      await scimtap.stop();
      scimtap = await start(more);
      follower.resume();
    },
    async targetDown() {
      await target.close();
    },
    async targetUp() {
      const faults = { ...target.faults };
      target = await startTarget({ port: targetPort, token, faults });
    },
    async close() {
      await follower.stop();
      await scimtap.stop();
      await target.close();
      await smtp.close();
    },
  };
  return scene;
}

/**
 * On PostgreSQL the leader derives an operation once it is a second old by the app's clock (pg/derive/consumer.ts),
 * and the scene's fake clock stands still: what a second of real time does in production, a drain every second
 * does here, so that a scene that waits for an email without flushing (the recorder's own flush, the evaluation
 * after the burst) sees what a replica would do. Nothing on SQLite, which derives as it records.
 */
function followTheTraffic(postgres: PostgresServer | undefined, current: () => Scimtap) {
  let paused = false;
  let running: Promise<unknown> = Promise.resolve();
  const timer = postgres
    ? setInterval(() => {
        if (paused) return;
        // A flush racing a stop (a restart, the end) fails or finds nothing: either is fine here.
        running = Promise.resolve()
          .then(() => current().recorder.flush())
          .catch(() => {});
      }, 1_000)
    : undefined;
  timer?.unref();
  return {
    async pause() {
      paused = true;
      await running;
    },
    resume() {
      paused = false;
    },
    async stop() {
      clearInterval(timer);
      paused = true;
      await running;
    },
  };
}

export interface Result {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: SCIM JSON from the target, read field by field
  body: any;
}

/** Entra's side of the conversation, as in reference/entra-scim.md §2, through scimtap's proxy listener. */
export class EntraClient {
  /** userName → target id, like Entra's cache after a create or a match */
  readonly ids = new Map<string, string>();

  constructor(
    private readonly proxyUrl: () => string,
    public token: string,
  ) {}

  async request(method: string, path: string, body?: unknown): Promise<Result> {
    const res = await send(`${this.proxyUrl()}/scim/v2${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/scim+json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = res.body.toString('utf8');
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = text;
    }
    return { status: res.status, body: parsed };
  }

  /** The GUID probe Entra sends at Test Connection and at the start of every cycle. */
  probe(): Promise<Result> {
    return this.request('GET', `/Users?filter=${encodeURIComponent(`userName eq "${randomUUID()}"`)}`);
  }

  lookup(userName: string): Promise<Result> {
    return this.request('GET', `/Users?filter=${encodeURIComponent(`userName eq "${userName}"`)}`);
  }

  /** Look up, then create when absent: Entra's first sight of a user. */
  async provision(userName: string): Promise<Result> {
    const found = await this.lookup(userName);
    const existing = found.body?.Resources?.[0]?.id;
    if (found.status === 200 && existing) {
      this.ids.set(userName, existing);
      return found;
    }
    if (found.status !== 200) return found;
    const created = await this.request('POST', '/Users', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      userName,
      externalId: `ext-${userName}`,
      active: true,
      displayName: userName.split('@')[0],
    });
    if (created.status === 201) this.ids.set(userName, created.body.id);
    return created;
  }

  update(userName: string, displayName = `${userName} ${Date.now()}`): Promise<Result> {
    return this.request('PATCH', `/Users/${this.idOf(userName)}`, {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'Replace', path: 'displayName', value: displayName }],
    });
  }

  disable(userName: string): Promise<Result> {
    return this.request('PATCH', `/Users/${this.idOf(userName)}`, {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'Replace', path: 'active', value: 'False' }],
    });
  }

  private idOf(userName: string): string {
    const id = this.ids.get(userName);
    if (!id) throw new Error(`no target id cached for ${userName}`);
    return id;
  }

  /** run `fn` over `items`, `concurrency` at a time (Entra sends in parallel too) */
  async each<T>(items: T[], fn: (item: T) => Promise<unknown>, concurrency = 16): Promise<void> {
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(concurrency, items.length) }, async () => {
        while (next < items.length) await fn(items[next++]);
      }),
    );
  }
}

/** A healthy cycle, then, 40 minutes later, three calls rejected with 401: `credentials` fires (critical). */
export async function tokenExpires(scene: Scene, people = users(5)): Promise<void> {
  const { entra, target } = scene;
  await scene.provisionCycle(people);
  scene.advance(40 * MIN);
  await entra.probe();
  target.setFaults({ tokenExpired: true });
  for (const u of people.slice(0, 3)) expect((await entra.update(u)).status).toBe(401);
  await scene.settle();
}

export const users = (n: number, prefix = 'user') =>
  Array.from({ length: n }, (_, i) => `${prefix}${String(i + 1).padStart(4, '0')}@example.com`);

export function emailText(m: ParsedMail): string {
  return m.text ?? '';
}
