import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { send, startUpstream } from '../helpers/http.js';
import { type ScimtapProcess, spawnScimtap, stopProcess, until } from './lib.js';

// Reload as an operator does it (issue 14): `node bin/scimtap.js` with SCIMTAP_CONFIG, the file edited, then
// `kill -HUP`. A new app answers without a restart; a broken file is refused, its problems logged, and the
// process keeps forwarding with the apps it had.

type Upstream = Awaited<ReturnType<typeof startUpstream>>;
const upstreams: Upstream[] = [];
let child: ScimtapProcess | undefined;
afterAll(async () => {
  if (child) await stopProcess(child);
  for (const u of upstreams) await u.close();
});

describe('SIGHUP', () => {
  it('adds an app from the edited file, and refuses a broken file without stopping', async () => {
    const [a, c] = await Promise.all(
      [0, 1].map(() =>
        startUpstream((_r, res) => {
          res.writeHead(200, { 'content-type': 'application/scim+json' });
          res.end(
            '{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":0,"Resources":[]}',
          );
        }),
      ),
    );
    upstreams.push(a, c);
    const dir = mkdtempSync(join(tmpdir(), 'scimtap-sighup-'));
    const file = join(dir, 'scimtap.json');
    const appA = { id: 'a', name: 'App A', upstream: a.url };
    writeFileSync(file, JSON.stringify({ apps: [appA, { id: 'b', name: 'App B', upstream: a.url }] }));
    child = await spawnScimtap({ SCIMTAP_CONFIG: file, SCIMTAP_DB: join(dir, 'scimtap.db') });
    const proxy = child.proxyUrl;
    expect((await send(`${proxy}/a/Users`)).status).toBe(200);
    expect((await send(`${proxy}/c/Users`)).status).toBe(404);

    writeFileSync(file, JSON.stringify({ apps: [appA, { id: 'c', name: 'App C', upstream: c.url }] }));
    child.child.kill('SIGHUP');
    const p = child;
    await until(
      () => p.output().includes('reload: 1 added, 1 removed, 0 replaced, 1 unchanged'),
      20_000,
      'the reload',
    );
    expect((await send(`${proxy}/c/Users`)).status).toBe(200);
    expect(c.received).toHaveLength(1);
    // the same environment and flags, read again: no setting reported as changed
    expect(p.output()).not.toContain('only a restart applies');
    expect((await send(`${proxy}/b/Users`)).status).toBe(404);

    // Two problems: an id that is not url-safe and an upstream that is not a URL.
    writeFileSync(
      file,
      JSON.stringify({
        apps: [
          appA,
          { id: 'Bad Id', name: 'X', upstream: c.url },
          { id: 'd', name: 'D', upstream: 'nowhere' },
        ],
      }),
    );
    child.child.kill('SIGHUP');
    const line = await until(
      () =>
        p
          .output()
          .split('\n')
          .find((l) => l.includes('reload refused')),
      20_000,
      'the refusal',
    );
    const logged = JSON.parse(line) as { level: number; problems: string[]; msg: string };
    expect(logged.level).toBe(50);
    expect(logged.problems).toHaveLength(2);
    expect(logged.problems[0]).toMatch(/apps\.1\.id/);
    expect(logged.problems[1]).toMatch(/apps\.2\.upstream/);
    expect(logged.msg).toContain('2 problems');
    expect(p.child.exitCode).toBeNull();
    // still the apps it had
    expect((await send(`${proxy}/a/Users`)).status).toBe(200);
    expect((await send(`${proxy}/c/Users`)).status).toBe(200);
    expect((await send(`${proxy}/d/Users`)).status).toBe(404);
  }, 120_000);
});
