import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { exchange } from '../../test/fixtures/entra.js';
import { entra } from '../../test/helpers/traffic.js';
import { burstDefaults, createBurst } from './burst.js';
import { openDatabase } from './db.js';
import { createLagReader } from './derivation.js';
import { startLogThread } from './log-thread.js';
import { noStorageCounters, pruneDeletes } from './storage-prune.js';

// A burst is logged first and derived after (issue 12 §1): the log writer appends it to pending_operations, and
// derivation waits until the rate falls, or until the burst has gone on for `maxMs`.

/** `n` arrivals spread evenly over [from, from + ms). */
function arrive(burst: ReturnType<typeof createBurst>, from: number, ms: number, n: number): void {
  for (let i = 0; i < n; i++) burst.note(from + (i * ms) / n);
}

describe('a burst', () => {
  it('is traffic over the rate: never what provisioning clients send', () => {
    const burst = createBurst({ ratePerSecond: 1_000, maxMs: 10_000, windowMs: 500 });
    // Entra's expected 25 a second, then 900 a second, for a minute each: never a burst.
    for (let s = 0; s < 60; s++) {
      arrive(burst, s * 1_000, 1_000, 25);
      expect(burst.active(s * 1_000 + 999)).toBe(false);
    }
    for (let s = 60; s < 120; s++) {
      arrive(burst, s * 1_000, 1_000, 900);
      expect(burst.active(s * 1_000 + 999)).toBe(false);
    }
    // 2,000 a second: a burst within its first window.
    arrive(burst, 120_000, 400, 800);
    expect(burst.active(120_400)).toBe(true);
  });

  it('holds derivation back for at most maxMs, then lets it run while the flood goes on', () => {
    const burst = createBurst({ ratePerSecond: 1_000, maxMs: 10_000, windowMs: 500 });
    let t = 0;
    // 3,000 a second: a burst from the 500th arrival on (the 200th ms).
    for (; t < 9_500; t += 100) {
      arrive(burst, t, 100, 300);
      if (t >= 200) expect(burst.active(t + 99), `at ${t} ms`).toBe(true);
    }
    for (; t < 30_000; t += 100) {
      arrive(burst, t, 100, 300);
      if (t >= 10_200) expect(burst.active(t + 99), `at ${t} ms`).toBe(false);
    }
    // The flood ends: a quiet window ends the burst, and the next one is held back afresh.
    expect(burst.active(t + 1_200)).toBe(false);
    arrive(burst, t + 1_200, 300, 600);
    expect(burst.active(t + 1_500)).toBe(true);
  });

  it('ends with the first window under the rate, even if nobody asked during it', () => {
    const burst = createBurst();
    arrive(burst, 0, 1_000, 3_000);
    expect(burst.active(1_000)).toBe(true);
    // A quiet second, then a short spike: a new burst, not the old one grown past maxMs.
    arrive(burst, 2_000, burstDefaults.maxMs, 10);
    arrive(burst, 2_000 + burstDefaults.maxMs, 200, 600);
    expect(burst.active(2_000 + burstDefaults.maxMs + 200)).toBe(true);
  });
});

/** A log writer thread on a new file, started, and a connection of the test's own to that file. */
async function startWriter() {
  const dbPath = join(mkdtempSync(join(tmpdir(), 'scimtap-burst-')), 'burst.db');
  const thread = startLogThread({
    dbPath,
    classify: { capture: 'redacted', redact: ['password'] },
    cycles: { cycleIntervalMin: 40, expectedObjects: undefined, rules: { cycleGapMinutes: 30 } },
  });
  await thread.ready;
  return { thread, db: openDatabase(dbPath) };
}

describe('the log writer during a burst', () => {
  it('logs first, derives after the burst, and loses nothing', { timeout: 60_000 }, async () => {
    const { thread, db } = await startWriter();
    const lag = createLagReader(db);
    const pending = () => Number(db.$client.prepare('select count(*) from pending_operations').pluck().get());
    const logged = () => Number(db.$client.prepare('select count(*) from operations').pluck().get());
    try {
      // About 3,000 a second for 0.6 s: over the rate, and never a backlog (the writer keeps up).
      const sent = 1_800;
      const body = Buffer.from('{"userName":"ada@example.com","password":"not-a-real-password"}');
      for (let i = 0; i < sent; i += 30) {
        for (let j = i; j < i + 30; j++) {
          thread.record(
            exchange({ method: 'POST', path: '/scim/v2/Users', reqBody: body, startedAt: Date.now() }),
          );
        }
        await new Promise((r) => setTimeout(r, 10));
      }
      const deadline = Date.now() + 20_000;
      while (thread.stats().written < sent && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 5));
      expect(thread.stats()).toMatchObject({ written: sent, dropped: 0 });
      // Recorded, not derived: the burst is in pending_operations, with its bodies redacted as anywhere else.
      expect(lag(Date.now()).operations).toBeGreaterThan(0);
      expect(pending()).toBeGreaterThan(0);
      const stored = db.$client.prepare('select request_body from pending_operations limit 1').pluck().get();
      expect(String(stored)).not.toContain('not-a-real-password');
      // Once the rate falls, derivation moves it all into the log, in order, and catches up.
      while (lag(Date.now()).operations > 0 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      expect(lag(Date.now())).toMatchObject({ operations: 0, seconds: 0 });
      expect(pending()).toBe(0);
      expect(logged()).toBe(sent);
      const ids = db.$client.prepare('select id from operations order by id').pluck().all();
      expect(ids).toEqual(Array.from({ length: sent }, (_, i) => i + 1));
      const bodies = Number(db.$client.prepare('select count(*) from bodies').pluck().get());
      expect(bodies).toBe(sent);
    } finally {
      thread.stop();
      await thread.close();
      db.$client.close();
    }
  });

  it('derives a burst that waited through a storage prune with identities that exist', {
    timeout: 60_000,
  }, async () => {
    const { thread, db } = await startWriter();
    const count = (sql: string) => Number(db.$client.prepare(sql).pluck().get());
    try {
      // The user is created and derived: the log writer's cycles stage now has its identity row cached.
      const t0 = Date.now();
      thread.record(entra.createUser(t0, 'ada@contoso.example', 'u-1'));
      thread.flush();
      expect(count('select count(*) from identities')).toBe(1);
      // A burst of updates to that user, by id, logged first (about 3,000 a second).
      const sent = 1_800;
      for (let i = 0; i < sent; i += 30) {
        for (let j = i; j < i + 30; j++)
          thread.record(entra.updateUser(t0 + 1 + j, 'u-1', 'ada@contoso.example', `Ada ${j}`));
        await new Promise((r) => setTimeout(r, 10));
      }
      const deadline = Date.now() + 20_000;
      while (thread.stats().written < sent + 1 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 5));
      // While it waits to be derived, the storage guard prunes the log and the identities it leaves without
      // operations, holding the write turn, and has the writer reload what it caches (storage.ts does the same).
      thread.turn.acquire();
      try {
        expect(count('select count(*) from pending_operations')).toBeGreaterThan(0);
        const deletes = pruneDeletes(db.$client, noStorageCounters(), () => thread.reload());
        deletes.operations(10_000);
        deletes.identities(10_000);
        expect(count('select count(*) from identities')).toBe(0);
      } finally {
        thread.turn.release();
      }
      thread.flush();
      expect(count('select count(*) from pending_operations')).toBe(0);
      // Every derived row names an identity that exists: none points at the pruned row.
      expect(
        count(`select count(*) from operations o where o.identity_id is not null
          and not exists (select 1 from identities i where i.id = o.identity_id)`),
      ).toBe(0);
      expect(count('select count(*) from identities')).toBe(1);
      expect(count('select count(*) from operations where identity_id is not null')).toBeGreaterThan(0);
    } finally {
      thread.stop();
      await thread.close();
      db.$client.close();
    }
  });
});
