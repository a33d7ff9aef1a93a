import { spawnSync } from 'node:child_process';
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
});
