import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startUpstream } from '../helpers/http.js';
import { repoRoot, spawnScimtap, stopProcess } from '../reliability/lib.js';

// Only what runs ships as a runtime dependency: `npm ci --omit=dev` next to the built server must be enough to
// run scimtap (no tsx, no TypeScript, no test-only SCIM servers).

const dir = mkdtempSync(join(tmpdir(), 'scimtap-prod-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a production install', () => {
  it('runs the built server with only the runtime dependencies installed', async () => {
    expect(
      existsSync(join(repoRoot, 'dist', 'server', 'cli.js')),
      'the global setup builds dist/server',
    ).toBe(true);
    for (const f of ['package.json', 'package-lock.json', 'bin', 'drizzle'])
      cpSync(join(repoRoot, f), join(dir, f), { recursive: true });
    cpSync(join(repoRoot, 'dist', 'server'), join(dir, 'dist', 'server'), { recursive: true });
    // From npm's cache (the suite's own install filled it); the native SQLite addon is taken from that install
    // rather than compiled again.
    const install = spawnSync(
      'npm',
      ['ci', '--omit=dev', '--ignore-scripts', '--offline', '--no-audit', '--no-fund'],
      {
        cwd: dir,
        encoding: 'utf8',
        timeout: 180_000,
      },
    );
    expect(install.status, `${install.stdout}${install.stderr}`).toBe(0);
    cpSync(
      join(repoRoot, 'node_modules', 'better-sqlite3', 'build'),
      join(dir, 'node_modules', 'better-sqlite3', 'build'),
      {
        recursive: true,
      },
    );

    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    for (const devOnly of ['tsx', 'typescript', 'vite', 'vitest', 'express', 'scimmy', 'scimmy-routers']) {
      expect(pkg.dependencies[devOnly], `${devOnly} is not a runtime dependency`).toBeUndefined();
      expect(existsSync(join(dir, 'node_modules', devOnly)), `${devOnly} is not installed`).toBe(false);
    }

    const upstream = await startUpstream((_r, res) => {
      res.writeHead(200, { 'content-type': 'application/scim+json' });
      res.end(
        '{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":0,"Resources":[]}',
      );
    });
    const scimtap = await spawnScimtap(
      { SCIMTAP_UPSTREAM: `${upstream.url}/scim/v2`, SCIMTAP_DB: join(dir, 'data', 'scimtap.db') },
      60_000,
      dir,
    );
    try {
      expect((await fetch(`${scimtap.proxyUrl}/Users?filter=userName%20eq%20%22a%22`)).status).toBe(200);
      const health = (await (await fetch(`${scimtap.adminUrl}/api/health`)).json()) as { mode: string };
      expect(health.mode).toBe('proxy');
      expect(scimtap.output()).not.toMatch(/building the server/);
    } finally {
      await stopProcess(scimtap);
      await upstream.close();
    }
  }, 240_000);
});
