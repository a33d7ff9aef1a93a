import { drizzle } from 'drizzle-orm/node-postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PostgresServer, startPostgres } from '../../../test/helpers/postgres.js';
import { outbox } from '../schema-pg/outbox.js';
import { migratePostgres } from './migrate.js';
import { claimDue, markSent } from './outbox.js';
import { createPool, type Pool } from './pool.js';

const now = 1_700_000_000_000;
const sendingTimeoutMs = 60_000;
const email = (i: number, incidentId: number | null = null) => ({
  incidentId,
  event: 'first' as const,
  sequence: i,
  createdAt: now,
  recipients: 'ops@example.com',
  subject: `email ${i}`,
  text: 't',
  html: 'h',
  nextAttemptAt: now,
  messageId: `<m${i}@scimtap.test>`,
});

const dueCount = async (pool: Pool) =>
  (await pool.query("select count(*)::int as n from outbox where state = 'unsent'")).rows[0].n as number;

describe('claiming outbox rows on PostgreSQL', () => {
  let server: PostgresServer;
  const pools: Pool[] = [];
  const fresh = async () => {
    const url = await server.createDatabase();
    const [a, b] = [createPool(url, { max: 4 }), createPool(url, { max: 4 })];
    pools.push(a, b);
    await migratePostgres(a);
    return { a, b };
  };
  beforeAll(async () => {
    server = await startPostgres();
  });
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.end()));
    await server?.stop();
  });

  // Two senders claiming at the same time, over and over: every row is taken exactly once.
  it('never gives the same row to two concurrent senders', async () => {
    const { a, b } = await fresh();
    await drizzle(a)
      .insert(outbox)
      .values(Array.from({ length: 60 }, (_, i) => email(i + 1)));
    const claimer = async (pool: Pool) => {
      const got: number[] = [];
      for (;;) {
        const rows = await claimDue(pool, { receiver: 'email', now, sendingTimeoutMs, limit: 3 });
        // Empty under contention is not proof that nothing is left: stop when no row is due.
        if (rows.length === 0 && (await dueCount(pool)) === 0) return got;
        got.push(...rows.map((r) => r.id));
        // The time a send takes: the other sender claims meanwhile.
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    // Both pools connected before the race starts, so neither drains the outbox while the other connects.
    await Promise.all([a.query('select 1'), b.query('select 1')]);
    const [fromA, fromB] = await Promise.all([claimer(a), claimer(b)]);
    expect(fromA.length).toBeGreaterThan(0);
    expect(fromB.length).toBeGreaterThan(0);
    expect(fromA.filter((id) => fromB.includes(id))).toEqual([]);
    expect([...fromA, ...fromB].sort((x, y) => x - y)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    const { rows } = await a.query(
      "select count(*)::int as n from outbox where state = 'sending' and attempts = 1",
    );
    expect(rows[0].n).toBe(60);
  });

  // A row another transaction has locked is skipped at once, not waited for.
  it('skips a locked row instead of waiting for it', async () => {
    const { a, b } = await fresh();
    await drizzle(a)
      .insert(outbox)
      .values([email(1), email(2)]);
    const holder = await a.connect();
    try {
      await holder.query('begin');
      await holder.query('select id from outbox where id = 1 for update');
      const started = Date.now();
      const rows = await claimDue(b, { receiver: 'email', now, sendingTimeoutMs });
      expect(rows.map((r) => r.id)).toEqual([2]);
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      await holder.query('rollback');
      holder.release();
    }
  });

  // At least once: a claim whose sender died is due again after the timeout, with the same Message-ID; a sent
  // row never is. One incident's emails go one at a time, in order.
  it('retries a dead sender’s claim after the timeout, and keeps one incident’s emails in order', async () => {
    const { a, b } = await fresh();
    await drizzle(a)
      .insert(outbox)
      .values([email(1, 7), email(2, 7), email(3)]);
    const first = await claimDue(a, { receiver: 'email', now, sendingTimeoutMs });
    expect(first.map((r) => [r.id, r.attempts])).toEqual([
      [1, 0],
      [3, 0],
    ]);
    expect(await claimDue(b, { receiver: 'email', now: now + 1_000, sendingTimeoutMs })).toEqual([]);

    expect(await markSent(a, 3, { at: now + 500, response: '250 OK' })).toBe(true);
    const again = await claimDue(b, { receiver: 'email', now: now + sendingTimeoutMs, sendingTimeoutMs });
    expect(again.map((r) => [r.id, r.attempts, r.messageId])).toEqual([[1, 1, '<m1@scimtap.test>']]);

    await markSent(b, 1, { at: now + sendingTimeoutMs + 10, response: '250 OK' });
    const next = await claimDue(a, { receiver: 'email', now: now + sendingTimeoutMs + 20, sendingTimeoutMs });
    expect(next.map((r) => r.id)).toEqual([2]);
    expect(await markSent(a, 3, { at: now, response: 'again' })).toBe(false);
  });
});
