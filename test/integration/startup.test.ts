import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream } from '../helpers/http.js';
import { startSmtp, type TestSmtp } from '../helpers/smtp.js';
import { repoRoot, spawnScimtap, stopProcess, until } from '../reliability/lib.js';

// Proxy mode says what it does: it checks the app and the mail server once at startup (never refusing to start),
// prints a banner for a person at a terminal, and one structured line for a service manager.

let upstream: Awaited<ReturnType<typeof startUpstream>>;
let smtp: TestSmtp;

beforeAll(async () => {
  upstream = await startUpstream((r, res) => {
    res.writeHead(r.url.endsWith('/ServiceProviderConfig') ? 401 : 200, {
      'content-type': 'application/scim+json',
    });
    res.end('{}');
  });
  smtp = await startSmtp();
});

afterAll(async () => {
  await upstream?.close();
  await smtp?.close();
});

const dbIn = () => join(mkdtempSync(join(tmpdir(), 'scimtap-startup-')), 'scimtap.db');

describe('startup checks and what proxy mode prints', () => {
  it('without a terminal: one structured line with both checks; a failing check is a warning, not a refusal', async () => {
    const p = await spawnScimtap({
      SCIMTAP_UPSTREAM: `${upstream.url}/scim/v2`,
      SCIMTAP_DB: dbIn(),
      // nothing listens on port 9: the SMTP check fails, and scimtap still runs
      SCIMTAP_SMTP_URL: 'smtp://scimtap:hunter2hunter2@127.0.0.1:9',
      SCIMTAP_NOTIFY_TO: 'ops@example.com',
    });
    try {
      const line = await until(
        () =>
          p
            .output()
            .split('\n')
            .find((l) => l.includes('"startup checks"')),
        20_000,
        'the startup checks line',
      );
      const logged = JSON.parse(line);
      expect(logged.level).toBe(40);
      // one check per app, by id (the single app of SCIMTAP_UPSTREAM is `default`)
      expect(logged.upstreamChecks.default).toMatchObject({ ok: true });
      expect(logged.upstreamChecks.default.detail).toMatch(
        /HTTP 401 on GET \/scim\/v2\/ServiceProviderConfig/,
      );
      expect(logged.smtpCheck.ok).toBe(false);
      expect(logged.smtpCheck.detail).toMatch(/127\.0\.0\.1:9: .*ECONNREFUSED/);
      expect(p.output()).not.toContain('hunter2');
      // no banner without a terminal
      expect(p.output()).not.toContain('Upstream check');
      expect(upstream.received.some((r) => r.url === '/scim/v2/ServiceProviderConfig')).toBe(true);
      // still forwarding
      expect((await fetch(`${p.proxyUrl}/Users`)).status).toBe(200);
    } finally {
      await stopProcess(p);
    }
  }, 60_000);

  it('at a terminal: a banner naming the Tenant URL, dashboard, database and both checks', async () => {
    // `script` gives the child a pseudo-terminal, as a person running npm start has.
    const env = {
      ...process.env,
      SCIMTAP_UPSTREAM: `${upstream.url}/scim/v2`,
      SCIMTAP_DB: dbIn(),
      SCIMTAP_LISTEN: '127.0.0.1:0',
      SCIMTAP_ADMIN_LISTEN: '127.0.0.1:0',
      SCIMTAP_SMTP_URL: smtp.url,
      SCIMTAP_APP_NAME: 'Tanium SSO',
    };
    const child = spawn('script', ['-qfec', `${process.execPath} bin/scimtap.js`, '/dev/null'], {
      cwd: repoRoot,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    try {
      await until(() => (out.includes('Email check') ? true : undefined), 30_000, 'the banner');
      expect(out).toMatch(/scimtap \S+ is forwarding Tanium SSO's SCIM traffic/);
      expect(out).toMatch(/Proxy \(Entra's Tenant URL\)\s+http:\/\/127\.0\.0\.1:\d+\//);
      expect(out).toMatch(/Dashboard\s+http:\/\/127\.0\.0\.1:\d+/);
      expect(out).toMatch(/Upstream check\s+ok: reachable/);
      expect(out).toMatch(/Email check\s+ok: verified/);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  }, 60_000);
});
