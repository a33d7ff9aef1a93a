import { mkdirSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { exchange } from '../../test/fixtures/entra.js';
import { BodyTap } from '../proxy/tap.js';
import { createCheckpointers } from './checkpointer.js';
import { openDatabase } from './db.js';
import { createLogHost, type LogHost } from './log-host.js';
import { type LogThread, startLogThread } from './log-thread.js';

// The apps of one process share the log writer thread and the checkpointer thread (issue 14): each app still
// writes its own file, with its own queue, and one app that cannot open its file costs the others nothing.

const classify = { capture: 'redacted' as const, redact: ['password'] };
const cycles = { cycleIntervalMin: 40, expectedObjects: undefined, rules: { cycleGapMinutes: 30 } };
const dir = () => mkdtempSync(join(tmpdir(), 'scimtap-host-'));
const opened: { host: LogHost; threads: LogThread[] }[] = [];

function appOn(host: LogHost, dbPath: string): LogThread {
  const thread = startLogThread({ dbPath, classify, cycles, host });
  opened.at(-1)?.threads.push(thread);
  return thread;
}

const count = (path: string) =>
  (openDatabase(path).$client.prepare('select count(*) n from operations').get() as { n: number }).n;

afterEach(async () => {
  for (const { host, threads } of opened.splice(0)) {
    for (const t of threads) {
      t.stop();
      await t.close();
    }
    await host.close();
  }
});

describe('one log writer thread for several apps', () => {
  it("writes each app's exchanges to its own file, and one app's stop leaves the other recording", {
    timeout: 30_000,
  }, async () => {
    const host = createLogHost();
    opened.push({ host, threads: [] });
    const d = dir();
    const a = appOn(host, join(d, 'a.db'));
    const b = appOn(host, join(d, 'b.db'));
    await Promise.all([a.ready, b.ready]);
    for (let i = 0; i < 30; i++) a.record(exchange({ path: `/scim/v2/Users/a${i}` }));
    for (let i = 0; i < 7; i++) b.record(exchange({ path: `/scim/v2/Users/b${i}` }));
    a.flush();
    b.flush();
    expect([a.stats().written, b.stats().written]).toEqual([30, 7]);
    expect(a.stop()).toBe(0);
    b.record(exchange());
    b.flush();
    expect(b.stats()).toMatchObject({ written: 8, dropped: 0, failing: false });
    expect([count(join(d, 'a.db')), count(join(d, 'b.db'))]).toEqual([30, 8]);
  });

  it('moves the bodies of one hand-off intact: views into shared buffers, joined bodies, none', {
    timeout: 30_000,
  }, async () => {
    const host = createLogHost({ handoffMs: 60_000 });
    opened.push({ host, threads: [] });
    const d = dir();
    const a = appOn(host, join(d, 'a.db'));
    const b = appOn(host, join(d, 'b.db'));
    await Promise.all([a.ready, b.ready]);
    // As a socket read leaves them: every body a view into one buffer that holds others too.
    const texts = Array.from({ length: 12 }, (_, i) => JSON.stringify({ userName: `user${i}@example.com` }));
    const shared = Buffer.from(`xx${texts.join('')}yy`);
    const starts = texts.map((_, i) => 2 + texts.slice(0, i).join('').length);
    const views = texts.map((t, i) => shared.subarray(starts[i], starts[i] + t.length));
    const joined = new BodyTap(1_000);
    for (const piece of ['{"userName":', '"joined@example.com"}']) joined.push(Buffer.from(piece));
    const sent = (app: string, i: number) => exchange({ path: `/scim/v2/Users/${app}${i}` });
    for (let i = 0; i < 6; i++) {
      const e = sent('a', i);
      e.requestBody = views[2 * i];
      e.responseBody = i === 3 ? joined.body() : i === 4 ? null : views[2 * i + 1];
      a.record(e);
    }
    const e = sent('b', 0);
    e.responseBody = views[11];
    b.record(e);
    // One hand-off carries both apps' exchanges.
    host.handOff();
    a.flush();
    b.flush();
    const stored = (path: string) =>
      openDatabase(path)
        .$client.prepare('select request_body req, response_body res from bodies order by operation_id')
        .all();
    expect(stored(join(d, 'a.db'))).toEqual(
      [0, 1, 2, 3, 4, 5].map((i) => ({
        req: texts[2 * i],
        res: i === 3 ? '{"userName":"joined@example.com"}' : i === 4 ? null : texts[2 * i + 1],
      })),
    );
    expect(stored(join(d, 'b.db'))).toEqual([{ req: null, res: texts[11] }]);
    // The proxy's buffers are left as they were: copied from, not moved.
    expect(shared.toString()).toBe(`xx${texts.join('')}yy`);
  });

  it("records a quiet app's exchanges while another app's backlog is still being written", {
    timeout: 60_000,
  }, async () => {
    const host = createLogHost();
    opened.push({ host, threads: [] });
    const d = dir();
    const flooded = appOn(host, join(d, 'flooded.db'));
    const quiet = appOn(host, join(d, 'quiet.db'));
    await Promise.all([flooded.ready, quiet.ready]);
    const flood = 60_000;
    for (let i = 0; i < flood; i++) flooded.record(exchange({ path: `/scim/v2/Users/f${i}` }));
    for (let i = 0; i < 5; i++) quiet.record(exchange({ path: `/scim/v2/Users/q${i}` }));
    const end = Date.now() + 30_000;
    while (quiet.stats().written < 5 && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
    // The writers take turns a batch at a time: the quiet app's batch did not wait for the flood to be written.
    expect(quiet.stats().written).toBe(5);
    expect(flooded.stats().written).toBeLessThan(flood);
    flooded.flush();
    expect(flooded.stats()).toMatchObject({ written: flood, dropped: 0 });
  });

  it('an app whose file cannot open drops and fails alone', { timeout: 30_000 }, async () => {
    const host = createLogHost();
    opened.push({ host, threads: [] });
    const d = dir();
    // A folder where the database should be: SQLite cannot open it.
    mkdirSync(join(d, 'broken.db'));
    const broken = appOn(host, join(d, 'broken.db'));
    const good = appOn(host, join(d, 'good.db'));
    await expect(broken.ready).rejects.toThrow();
    await good.ready;
    broken.record(exchange());
    good.record(exchange());
    good.flush();
    expect(broken.stats()).toMatchObject({ written: 0, dropped: 1, failing: true });
    expect(good.stats()).toMatchObject({ written: 1, dropped: 0, failing: false });
  });
});

describe('one checkpointer thread for several databases', () => {
  it("moves each database's committed pages out of its WAL", { timeout: 30_000 }, async () => {
    const checkpointers = createCheckpointers({ intervalMs: 50 });
    const d = dir();
    const files = ['a.db', 'b.db'].map((name) => join(d, name));
    const dbs = files.map((path) => openDatabase(path));
    const running = dbs.map((db, i) => checkpointers.start(db, files[i]));
    const before = files.map((path) => statSync(path).size);
    for (const db of dbs) {
      const insert = db.$client.prepare('insert into meta (key, value) values (?, ?)');
      db.$client.transaction(() => {
        for (let i = 0; i < 20_000; i++) insert.run(`k${i}`, 'x'.repeat(100));
      })();
    }
    const grown = () => files.every((path, i) => statSync(path).size > before[i] + 1_000_000);
    const end = Date.now() + 20_000;
    while (!grown() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    expect(grown()).toBe(true);
    await Promise.all(running.map((c) => c.stop()));
    await checkpointers.close();
    // Stopped, each connection checkpoints by itself again.
    for (const db of dbs) expect(db.$client.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
  });
});
