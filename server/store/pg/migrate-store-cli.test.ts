import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, type PostgresServer, startPostgres } from '../../../test/helpers/postgres.js';
import { dumps, recordDatabase } from '../../../test/helpers/recorded-db.js';
import { insertOperationsIn } from './log.js';
import { migratePostgres } from './migrate.js';
import { migrateStore } from './migrate-store.js';
import { createPool, type Pool } from './pool.js';

// `scimtap migrate-store` as a person runs it: the built CLI in a child process, killed mid-copy and run again,
// and refusing what it must refuse, without ever printing the URL's password.

const password = 'S3cr3t-pw-7781';

interface Run {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function start(args: string[]) {
  const child = spawn(process.execPath, ['bin/scimtap.js', 'migrate-store', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const run: Run = { status: null, signal: null, stdout: '', stderr: '' };
  child.stdout.on('data', (d) => {
    run.stdout += d;
  });
  child.stderr.on('data', (d) => {
    run.stderr += d;
  });
  const done = new Promise<Run>((resolve) =>
    child.on('close', (status, signal) => resolve(Object.assign(run, { status, signal }))),
  );
  return { child, done };
}

const cli = (args: string[]) => start(args).done;

/** The URL with a password (the test server trusts any): it must never be printed. */
const withPassword = (url: string) => url.replace('postgres://postgres@', `postgres://postgres:${password}@`);

describe('scimtap migrate-store (command line)', () => {
  let server: PostgresServer;
  let dir: string;
  let file: string;
  const pools: Pool[] = [];
  const pool = (url: string) => {
    const p = createPool(url, { max: 2 });
    pools.push(p);
    return p;
  };
  // What the copy changes on purpose: a NUL becomes U+FFFD, and the derivation cursor (an id) becomes the
  // copied row's position in the log (txid:id; the txid is the copy's own).
  const normalised = (rows: Record<string, unknown[][]>) =>
    JSON.stringify({
      ...rows,
      meta: rows.meta?.map(([key, value]) =>
        key === 'derivation.cursor' ? [key, String(value).split(':').at(-1)] : [key, value],
      ),
    }).replaceAll('\\u0000', '\uFFFD');

  beforeAll(async () => {
    server = await startPostgres();
    dir = mkdtempSync(join(tmpdir(), 'scimtap-migrate-cli-'));
    file = join(dir, 'scimtap.db');
    recordDatabase(file);
    // The first run builds dist/ when server/ changed: not inside a test's time.
    const help = await cli(['--help']);
    expect(help.status).toBe(0);
  }, 180_000);
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.end()));
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('explains itself in --help, and scimtap --help names it', async () => {
    const help = await cli(['--help']);
    expect(help.stdout).toContain('--from FILE');
    expect(help.stdout).toContain('--batch-size N');
    expect(help.stdout).toMatch(/Stop scimtap first/);
    expect(help.stdout).toMatch(/run the same command again/);
    const main = await new Promise<string>((resolve) => {
      const c = spawn(process.execPath, ['bin/scimtap.js', '--help']);
      let out = '';
      c.stdout.on('data', (d) => {
        out += d;
      });
      c.on('close', () => resolve(out));
    });
    expect(main).toContain('scimtap migrate-store --from FILE --to URL');
  });

  // Killed with SIGKILL after some batches (one row each), then run again with the same arguments: the result
  // is row for row the source, and the same as a copy that was never interrupted.
  it('resumes a killed copy where it stopped, without doubling a row', async () => {
    const url = await server.createDatabase();
    const p = pool(url);
    const args = ['--from', file, '--to', withPassword(url), '--batch-size', '1'];
    const first = start(args);
    const progress = async () => {
      try {
        const { rows } = await p.query("select value from meta where key = 'migrate-store.table.operations'");
        return rows[0] ? (JSON.parse(rows[0].value).rows as number) : 0;
      } catch {
        return 0; // not migrated yet
      }
    };
    const deadline = Date.now() + 60_000;
    while ((await progress()) < 40 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    first.child.kill('SIGKILL');
    const killed = await first.done;
    expect(killed.signal).toBe('SIGKILL');
    const copiedBefore = await progress();
    expect(copiedBefore).toBeGreaterThanOrEqual(40);
    const partial = await p.query('select count(*)::int as n from operations');
    // Killed part way, and the progress row says exactly what was committed.
    expect(partial.rows[0].n).toBe(copiedBefore);
    expect(partial.rows[0].n).toBeLessThan(250);

    const second = await cli(['--from', file, '--to', withPassword(url), '--batch-size', '50']);
    expect(second.status, second.stderr).toBe(0);
    expect(second.stderr).toMatch(/operations: resuming after [\d,]+ rows copied earlier/);
    expect(second.stdout).toMatch(/resuming an earlier one/);
    for (const out of [killed.stdout, killed.stderr, second.stdout, second.stderr])
      expect(out).not.toContain(password);

    const resumed = await dumps(file, p);
    expect(normalised(resumed.target)).toEqual(normalised(resumed.source));
    const cleanUrl = await server.createDatabase();
    await migrateStore({ from: file, to: cleanUrl });
    const clean = await dumps(file, pool(cleanUrl));
    expect(normalised(resumed.target)).toEqual(normalised(clean.target));
  }, 120_000);

  it.each([
    ['a missing file', () => join(dir, 'nowhere.db'), /--from \(.*nowhere\.db\): no such file/],
    ['a folder', () => dir, /--from \(.*\): is a folder/],
    [
      'a file that is not a database',
      () => {
        const f = join(dir, 'notes.txt');
        writeFileSync(f, 'not a database, just text\n'.repeat(100));
        return f;
      },
      /--from \(.*notes\.txt\): cannot be read as a SQLite database/,
    ],
    [
      "another version's database",
      () => {
        const f = join(dir, 'old.db');
        const db = new Database(f);
        db.exec('create table operations (id integer primary key, path text)');
        db.close();
        return f;
      },
      /--from \(.*old\.db\): written by an older scimtap \(no .*\); start this version of scimtap on it once/,
    ],
    [
      'a database with a burst not derived yet',
      () => {
        const f = join(dir, 'burst.db');
        recordDatabase(f, { cycles: 1, perCycle: 3 });
        const db = new Database(f);
        db.exec(`insert into pending_operations (id, time, duration_ms, http_method, path, resource_type, operation,
          provisioning_action, status) values (1000, 0, 1, 'GET', '/Users', 'User', 'lookup', 'Other', 'success')`);
        db.close();
        return f;
      },
      /--from \(.*burst\.db\): 1 recorded operations are not derived yet \(pending_operations\); start scimtap on the file once/,
    ],
  ])('refuses --from naming %s, with status 2', async (_, from, message) => {
    const r = await cli([
      '--from',
      from(),
      '--to',
      `postgres://scimtap:${password}@127.0.0.1:${server.port}/x`,
    ]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout + r.stderr).not.toContain(password);
  });

  it('refuses a --to that is not a PostgreSQL URL, a missing flag and a bad batch size', async () => {
    const notPg = await cli(['--from', file, '--to', `mysql://root:${password}@127.0.0.1/db`]);
    expect(notPg.status).toBe(2);
    expect(notPg.stderr).toMatch(/--to \(mysql:\/\/root:\*\*\*@127\.0\.0\.1\/db\): not a PostgreSQL URL/);
    const missing = await cli(['--from', file]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/--to URL is required/);
    const batch = await cli(['--from', file, '--to', server.url, '--batch-size', '0']);
    expect(batch.status).toBe(2);
    expect(batch.stderr).toMatch(/--batch-size \(0\)/);
    const unknown = await cli(['--from', file, `--to=postgres://u:${password}@h/db`, '--fast']);
    expect(unknown.status).toBe(2);
    for (const r of [notPg, unknown]) expect(r.stdout + r.stderr).not.toContain(password);
  });

  it('refuses an unreachable server without printing the password', async () => {
    const port = await freePort();
    const r = await cli(['--from', file, '--to', `postgres://scimtap:${password}@127.0.0.1:${port}/scimtap`]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(
      new RegExp(`--to \\(postgres://scimtap:\\*\\*\\*@127\\.0\\.0\\.1:${port}/scimtap\\): cannot connect`),
    );
    expect(r.stdout + r.stderr).not.toContain(password);
  });

  // A database some other scimtap (or another copy) already wrote to is not mixed into: --force empties it.
  it('refuses a target holding other scimtap data unless --force', async () => {
    const url = await server.createDatabase();
    const p = pool(url);
    await migratePostgres(p);
    const client = await p.connect();
    await client.query('begin');
    const other = {
      time: 1,
      durationMs: 1,
      httpMethod: 'GET',
      path: '/other',
      resourceType: 'User' as const,
      operation: 'lookup' as const,
      provisioningAction: 'other' as const,
      status: 'success' as const,
    };
    await insertOperationsIn(client, [other]);
    await client.query('commit');
    client.release();

    const refused = await cli(['--from', file, '--to', withPassword(url)]);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(
      /--to \(.*\*\*\*.*\): already holds scimtap data .*operations: 1 rows.*--force/,
    );
    expect(refused.stdout + refused.stderr).not.toContain(password);

    const forced = await cli(['--from', file, '--to', withPassword(url), '--force']);
    expect(forced.status, forced.stderr).toBe(0);
    expect(forced.stdout + forced.stderr).not.toContain(password);
    const copied = await dumps(file, p);
    expect(normalised(copied.target)).toEqual(normalised(copied.source));

    // Another SQLite file into this copy: refused too (it would mix two databases' ids).
    const otherDir = join(dir, 'other');
    mkdirSync(otherDir, { recursive: true });
    const otherFile = join(otherDir, 'scimtap.db');
    recordDatabase(otherFile, { cycles: 2, perCycle: 3 });
    const mixed = await cli(['--from', otherFile, '--to', withPassword(url)]);
    expect(mixed.status).toBe(2);
    expect(mixed.stderr).toMatch(/earlier migrate-store copy of another SQLite database.*--force/);
  }, 60_000);
});
