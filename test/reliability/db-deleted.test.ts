import { rmSync, writeFileSync } from 'node:fs';
import type http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream } from '../helpers/http.js';
import { startTestScimtap } from '../helpers/scimtap.js';
import { request, until } from './lib.js';

// The database file deleted under a running scimtap (issue 10 §6). SQLite keeps writing to the open, unlinked
// file, and all of it vanishes at exit: scimtap must say so (health, metric, recorderFailing), not go on quietly.

const ok = (_r: unknown, res: http.ServerResponse) => {
  res.writeHead(200, { 'content-type': 'application/scim+json' });
  res.end(
    '{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":0,"Resources":[]}',
  );
};

let upstream: Awaited<ReturnType<typeof startUpstream>>;
let scimtap: Awaited<ReturnType<typeof startTestScimtap>>;
beforeAll(async () => {
  upstream = await startUpstream(ok);
  scimtap = await startTestScimtap(upstream.url);
});
afterAll(async () => {
  await scimtap?.stop();
  await upstream?.close();
});

const health = async () => JSON.parse((await request(`${scimtap.adminUrl}/api/health`)).body.toString());
const incidents = async () =>
  JSON.parse((await request(`${scimtap.adminUrl}/api/incidents?rule=recorderFailing`)).body.toString())
    .items as { state: string; summary: string }[];

describe('the database file is deleted while scimtap runs', () => {
  it('reports it: health degraded, metric, and a recorderFailing incident; forwarding goes on', async () => {
    expect(await health()).toMatchObject({ status: 'ok', db: 'ok', storage: { fileProblem: null } });
    rmSync(scimtap.dbPath);

    // The storage guard checks the path against the open file every second.
    const h = await until(
      async () => {
        const now = await health();
        return now.db === 'missing' && now;
      },
      5_000,
      'health to report the missing file',
    );
    expect(h.status).toBe('degraded');
    const metrics = (await request(`${scimtap.adminUrl}/metrics`)).body.toString();
    expect(metrics).toMatch(/^scimtap_storage_file_lost\{app="default"\} 1$/m);

    const res = await request(scimtap.proxyUrl, { path: '/Users?filter=userName+eq+%22after-delete%22' });
    expect(res.status).toBe(200);
    await scimtap.tick();
    const firing = await until(
      async () => (await incidents()).find((i) => i.state === 'firing'),
      5_000,
      'a firing recorderFailing incident',
    );
    expect(firing.summary).toMatch(/database file \(SCIMTAP_DB\) was deleted/);

    // Another file put in its place is not the one open either.
    writeFileSync(scimtap.dbPath, '');
    await until(async () => (await health()).db === 'replaced', 5_000, 'health to report the replaced file');
  }, 30_000);
});
