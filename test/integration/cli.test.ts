import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { spawnScimtap, stopProcess, until } from '../reliability/lib.js';

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
    // the other listener takes whatever port the OS gives: a guessed "free" port may be another test's
    const free = 0;
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
    expect(r.stderr).toContain(
      which === 'proxy' ? 'SCIMTAP_LISTEN (--listen)' : 'SCIMTAP_ADMIN_LISTEN (--admin-listen)',
    );
  });

  it('never starts the demo because of a misspelt SCIMTAP_UPSTREAM', () => {
    const dir = mkdtempSync(join(tmpdir(), 'scimtap-cli-'));
    const db = join(dir, 'real.db');
    const r = run([], { SCIMTAP_UPSTREM: 'http://127.0.0.1:9/scim/v2', SCIMTAP_DB: db });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(
      /unknown setting SCIMTAP_UPSTREM is ignored \(did you mean SCIMTAP_UPSTREAM\?\)/,
    );
    expect(r.stderr).toMatch(/SCIMTAP_UPSTREAM \(--upstream\): not set/);
    expect(r.stderr).toContain('scimtap demo');
    expect(existsSync(db)).toBe(false);
  });

  it('refuses to run the demo into a database that holds real traffic', () => {
    const dir = mkdtempSync(join(tmpdir(), 'scimtap-cli-'));
    const db = join(dir, 'real.db');
    const sqlite = new Database(db);
    sqlite.exec(
      "create table operations (id integer primary key, path text); insert into operations (path) values ('/Users')",
    );
    sqlite.close();
    const r = run(['demo'], {
      SCIMTAP_DB: db,
      SCIMTAP_ADMIN_LISTEN: '127.0.0.1:0',
      SCIMTAP_LISTEN: '127.0.0.1:0',
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/SCIMTAP_DB \(.*real\.db\) holds recorded traffic that is not the demo's/);
    const after = new Database(db, { readonly: true });
    expect(after.prepare('select count(*) from operations').pluck().get()).toBe(1);
    after.close();
  });

  it.each([
    // a path under /proc used to spin at 100% CPU with no output
    ['/proc/self/scimtap.db', /\/proc is not a real file system/],
    // a file where the folder should be (EEXIST from mkdir)
    ['FILE/sub/scimtap.db', /is a file, so the folder for the database cannot be created/],
    // a folder given as the database
    ['DIR', /is a folder; name a file inside it/],
  ])('names SCIMTAP_DB and what to fix when the database cannot be opened: %s', (path, message) => {
    const dir = mkdtempSync(join(tmpdir(), 'scimtap-cli-'));
    writeFileSync(join(dir, 'FILE'), 'not a folder');
    const db = path.replace('FILE', join(dir, 'FILE')).replace('DIR', dir);
    const r = run([], {
      SCIMTAP_UPSTREAM: 'http://127.0.0.1:9',
      SCIMTAP_DB: db,
      SCIMTAP_LISTEN: '127.0.0.1:0',
      SCIMTAP_ADMIN_LISTEN: '127.0.0.1:0',
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`SCIMTAP_DB (${db})`);
    expect(r.stderr).toMatch(message);
  });

  it('with a PostgreSQL URL: the demo and rebuild refuse with status 1; no folder named postgres:, no password shown', () => {
    const dir = mkdtempSync(join(tmpdir(), 'scimtap-cli-'));
    const url = 'postgres://scimtap:hunter2hunter2@127.0.0.1:9/scimtap';
    const reasons: Record<string, RegExp> = {
      demo: /the demo runs on SQLite files/,
      rebuild: /rebuild works on a SQLite file/,
    };
    for (const args of [['demo'], ['rebuild']]) {
      const r = spawnSync(process.execPath, [join(process.cwd(), 'bin/scimtap.js'), ...args], {
        cwd: dir,
        env: { ...process.env, SCIMTAP_UPSTREAM: 'http://127.0.0.1:9', SCIMTAP_DB: url },
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(r.status, args.join(' ')).toBe(1);
      expect(r.stderr).toMatch(/SCIMTAP_DB \(postgres:\/\/scimtap:\*\*\*@127\.0\.0\.1:9\/scimtap\)/);
      expect(r.stderr).toMatch(reasons[args[0] as string] as RegExp);
      expect(`${r.stdout}${r.stderr}`).not.toContain('hunter2');
      expect(existsSync(join(dir, 'postgres:'))).toBe(false);
    }
  });

  // Forwarding comes first: a database it cannot reach at startup is an outage, not a reason to stop.
  it('serves on a PostgreSQL it cannot reach yet, saying so without the password', async () => {
    const p = await spawnScimtap(
      {
        SCIMTAP_UPSTREAM: 'http://127.0.0.1:9',
        SCIMTAP_DB: 'postgres://scimtap:hunter2hunter2@127.0.0.1:9/scimtap',
      },
      60_000,
      process.cwd(),
    );
    try {
      await until(() => p.output().includes('unreachable at startup'), 10_000, 'the database warning');
      expect(p.output()).toContain('postgres://scimtap:***@127.0.0.1:9/scimtap');
      expect(p.output()).not.toContain('hunter2');
      // Not taken for a file path: no folder named postgres: where it runs.
      expect(existsSync(join(process.cwd(), 'postgres:'))).toBe(false);
    } finally {
      await stopProcess(p);
    }
    expect(p.output()).not.toContain('hunter2');
  });

  it('prints each option with its meaning and default', () => {
    const r = run(['--help']);
    expect(r.stdout).toMatch(/--listen\s+SCIMTAP_LISTEN\s+default: 0\.0\.0\.0:8080\n\s+proxy listener/);
    expect(r.stdout).toContain('scimtap demo');
  });
});
