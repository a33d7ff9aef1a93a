import { mkdtempSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { type Received, startUpstream } from '../helpers/http.js';
import { request, type ScimtapProcess, spawnScimtap, stopProcess, until } from './lib.js';

// kill -9 under load (issue 7 §1): `node bin/scimtap.js` takes ~300 requests/s, each tagged with a unique
// filter value, and is killed without warning. The database must be intact, every exchange whose answer the
// client had more than a second before the kill must be in it, and the incident and outbox rows written
// before the crash must still be there after a restart on the same file.

const RATE = 300;
const LOAD_MS = 3_500;

const upstreamAnswer = (r: Received, res: http.ServerResponse) => {
  // A rejected token: the credentials rule fires after three in a row and queues an email.
  if (r.headers.authorization === 'Bearer token-expired') {
    res.writeHead(401, { 'content-type': 'application/scim+json' });
    res.end(
      '{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"401","detail":"token expired"}',
    );
    return;
  }
  res.writeHead(200, { 'content-type': 'application/scim+json' });
  res.end(
    '{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":0,"Resources":[]}',
  );
};

const children: ScimtapProcess[] = [];
let upstream: Awaited<ReturnType<typeof startUpstream>> | undefined;
afterAll(async () => {
  for (const c of children) await stopProcess(c);
  await upstream?.close();
});

const tagged = /crash-(\d+)/;

describe('kill -9 under load', () => {
  it('loses no answered exchange, keeps the database intact, and keeps incidents and the outbox', async () => {
    upstream = await startUpstream(upstreamAnswer);
    const dbPath = join(mkdtempSync(join(tmpdir(), 'scimtap-crash-')), 'scimtap.db');
    const env = { SCIMTAP_UPSTREAM: upstream.url, SCIMTAP_DB: dbPath, SCIMTAP_NOTIFY_TO: 'ops@example.com' };
    const first = await spawnScimtap(env);
    children.push(first);

    // An incident and its email (no SMTP configured: the email waits in the outbox) before the crash.
    for (let i = 0; i < 3; i++) {
      const res = await request(first.proxyUrl, {
        path: `/Users?filter=userName+eq+%22expired${i}%22`,
        headers: { authorization: 'Bearer token-expired' },
      });
      expect(res.status).toBe(401);
    }
    const beforeCrash = await until(
      () => {
        const db = new Database(dbPath, { readonly: true });
        try {
          const incident = db
            .prepare(
              "select id, rule, state, started_at as startedAt, fired_at as firedAt from incidents where rule = 'credentials'",
            )
            .get();
          const outbox = db
            .prepare('select id, incident_id as incidentId, event, subject, state from outbox')
            .all();
          return incident && outbox.length > 0 ? { incident, outbox } : undefined;
        } finally {
          db.close();
        }
      },
      15_000,
      'a credentials incident and its email in the outbox',
    );

    // ~300 requests/s, each tagged; remember when each answer was complete.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
    const answeredAt = new Map<number, number>();
    let sent = 0;
    const started = Date.now();
    const timer = setInterval(() => {
      const due = Math.floor(((Date.now() - started) * RATE) / 1000);
      while (sent < due) {
        const i = sent++;
        void request(first.proxyUrl, { path: `/Users?filter=userName+eq+%22crash-${i}%22`, agent }).then(
          (r) => {
            if (r.status === 200 && r.error === null) answeredAt.set(i, Date.now());
          },
        );
      }
    }, 5);
    await new Promise((r) => setTimeout(r, LOAD_MS));
    const killedAt = Date.now();
    first.child.kill('SIGKILL');
    clearInterval(timer);
    const { signal } = await first.exited;
    expect(signal).toBe('SIGKILL');
    agent.destroy();

    const mustHave = [...answeredAt].filter(([, at]) => at < killedAt - 1_000).map(([i]) => i);
    console.log(
      `sent ${sent} in ${LOAD_MS} ms (${Math.round((sent * 1000) / LOAD_MS)}/s), ${answeredAt.size} answered, ${mustHave.length} more than 1 s before the kill`,
    );
    expect(sent).toBeGreaterThan(RATE * (LOAD_MS / 1000) * 0.8);
    expect(mustHave.length).toBeGreaterThan(RATE * ((LOAD_MS - 1_000) / 1000) * 0.7);

    // What a restart finds, before scimtap touches it.
    const db = new Database(dbPath);
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    const recorded = new Set(
      (
        db.prepare("select query from operations where query like '%crash-%'").all() as { query: string }[]
      ).map((r) => Number(tagged.exec(r.query)![1])),
    );
    const lost = mustHave.filter((i) => !recorded.has(i));
    console.log(`recorded ${recorded.size}; lost among those answered > 1 s before the kill: ${lost.length}`);
    expect(lost).toEqual([]);
    db.close();

    // Restart on the same file: it starts, forwards, records, and the incident and email are still there.
    const second = await spawnScimtap(env);
    children.push(second);
    const res = await request(second.proxyUrl, { path: '/Users?filter=userName+eq+%22after-restart%22' });
    expect(res.status).toBe(200);
    const afterRestart = await until(
      () => {
        const ro = new Database(dbPath, { readonly: true });
        try {
          const n = ro
            .prepare("select count(*) as n from operations where query like '%after-restart%'")
            .get() as { n: number };
          if (n.n !== 1) return undefined;
          return {
            incident: ro
              .prepare(
                'select id, rule, state, started_at as startedAt, fired_at as firedAt from incidents where id = ?',
              )
              .get((beforeCrash.incident as { id: number }).id),
            outbox: ro
              .prepare(
                'select id, incident_id as incidentId, event, subject, state from outbox where id <= ?',
              )
              .all(Math.max(...(beforeCrash.outbox as { id: number }[]).map((o) => o.id))),
          };
        } finally {
          ro.close();
        }
      },
      5_000,
      'the restarted scimtap to record',
    );
    expect(afterRestart.incident).toMatchObject({
      id: (beforeCrash.incident as { id: number }).id,
      rule: 'credentials',
    });
    expect((afterRestart.incident as { firedAt: number }).firedAt).toBe(
      (beforeCrash.incident as { firedAt: number }).firedAt,
    );
    expect(afterRestart.outbox).toEqual(beforeCrash.outbox);
    const api = JSON.parse(
      (await request(`${second.adminUrl}/api/incidents?rule=credentials`)).body.toString(),
    );
    expect(api.items.map((i: { id: number }) => i.id)).toContain((beforeCrash.incident as { id: number }).id);

    await stopProcess(second);
    const after = new Database(dbPath, { readonly: true });
    expect(after.pragma('integrity_check', { simple: true })).toBe('ok');
    after.close();
  }, 90_000);
});
