import { mkdtempSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { startUpstream } from '../helpers/http.js';
import { request, type ScimtapProcess, spawnScimtap, stopProcess } from './lib.js';

// SIGTERM under load (issue 10 §6): on main, 570 exchanges were discarded at SIGTERM while `dropped` stayed 0.
// Every exchange the upstream received must end up either recorded or counted as dropped, and the count must
// survive the process (the meta table), since the metric dies with it.

const children: ScimtapProcess[] = [];
let upstream: Awaited<ReturnType<typeof startUpstream>> | undefined;
afterAll(async () => {
  for (const c of children) await stopProcess(c);
  await upstream?.close();
});

describe('SIGTERM under load', () => {
  it('accounts for every forwarded exchange: recorded + dropped (persisted) = forwarded', async () => {
    upstream = await startUpstream((_r, res) => {
      // A little latency so that requests are in flight when the signal comes.
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/scim+json' });
        res.end(
          '{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":0,"Resources":[]}',
        );
      }, 5);
    });
    const dbPath = join(mkdtempSync(join(tmpdir(), 'scimtap-sigterm-')), 'scimtap.db');
    const child = await spawnScimtap({ SCIMTAP_UPSTREAM: upstream.url, SCIMTAP_DB: dbPath });
    children.push(child);

    const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
    let stop = false;
    let answered = 0;
    const load = Promise.all(
      Array.from({ length: 32 }, async (_, w) => {
        for (let i = 0; !stop; i++) {
          const r = await request(child.proxyUrl, {
            path: `/Users?filter=userName+eq+%22term-${w}-${i}%22`,
            agent,
          });
          if (r.status === 200) answered++;
          if (r.error) await new Promise((res) => setTimeout(res, 5));
        }
      }),
    );
    await new Promise((r) => setTimeout(r, 2_000));
    child.child.kill('SIGTERM');
    const exit = await child.exited;
    stop = true;
    await load;
    agent.destroy();
    expect(exit.code).toBe(0);

    const forwarded = upstream.received.filter((r) => r.url.includes('term-')).length;
    const db = new Database(dbPath, { readonly: true });
    const recorded = db
      .prepare("select count(*) from operations where query like '%term-%'")
      .pluck()
      .get() as number;
    const dropped = Number(
      (db.prepare("select value from meta where key = 'recorder.droppedTotal'").pluck().get() as
        | string
        | undefined) ?? 0,
    );
    db.close();
    const stopped = child
      .output()
      .split('\n')
      .find((l) => l.includes('scimtap stopped'));
    console.log(`forwarded ${forwarded} (answered ${answered}), recorded ${recorded}, dropped ${dropped}`);
    console.log(stopped);
    expect(forwarded).toBeGreaterThan(100);
    expect(recorded + dropped).toBe(forwarded);
    // The log says it too, for whoever reads it without the database.
    expect(JSON.parse(stopped!)).toMatchObject({ droppedTotal: dropped });
  }, 120_000);
});
