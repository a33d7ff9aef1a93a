import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const run = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, ['bin/scimtap.js', ...args], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });

describe('scimtap command line', () => {
  it('exits with status 2 and lists every configuration problem at once', () => {
    const r = run([], {
      SCIMTAP_UPSTREAM: 'ftp://x',
      SCIMTAP_LISTEN: 'abc',
      SCIMTAP_ADMIN_LISTEN: '0.0.0.0:8081',
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/SCIMTAP_UPSTREAM/);
    expect(r.stderr).toMatch(/SCIMTAP_LISTEN/);
    expect(r.stderr).toMatch(/SCIMTAP_ADMIN_TOKEN is required/);
  });

  it('rejects an unknown flag with status 2', () => {
    const r = run(['--upstreem', 'http://x']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/upstreem/);
  });

  it('prints help listing every variable', () => {
    const r = run(['--help']);
    expect(r.status).toBe(0);
    for (const v of [
      'SCIMTAP_UPSTREAM',
      'SCIMTAP_ADMIN_TOKEN',
      'SCIMTAP_CAPTURE',
      'SCIMTAP_EXPECTED_OBJECTS',
    ]) {
      expect(r.stdout).toContain(v);
    }
  });

  // A listener that cannot bind must end the process with a message, not leave it hanging half-started.
  it.each(['proxy', 'admin'])('exits 1 naming the %s listener when its port is taken', async (which) => {
    const taken: Server = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const busy = (taken.address() as { port: number }).port;
    const free = busy === 65535 ? busy - 1 : busy + 1;
    const dir = mkdtempSync(join(tmpdir(), 'scimtap-cli-'));
    const r = run([], {
      SCIMTAP_UPSTREAM: 'http://127.0.0.1:9',
      SCIMTAP_DB: join(dir, 'x.db'),
      SCIMTAP_LISTEN: `127.0.0.1:${which === 'proxy' ? busy : free}`,
      SCIMTAP_ADMIN_LISTEN: `127.0.0.1:${which === 'admin' ? busy : free}`,
    });
    taken.close();
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`${which} listener 127\\.0\\.0\\.1:${busy}: .*EADDRINUSE`));
  });
});
