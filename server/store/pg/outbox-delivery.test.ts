import { drizzle } from 'drizzle-orm/node-postgres';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type PostgresServer, startPostgres } from '../../../test/helpers/postgres.js';
import { startSmtp, type TestSmtp } from '../../../test/helpers/smtp.js';
import { createOutbox } from '../../notify/outbox.js';
import { createSmtpSender } from '../../notify/sender.js';
import { outbox } from '../schema-pg/outbox.js';
import { migratePostgres } from './migrate.js';
import { claimDue, pgOutboxStore } from './outbox.js';
import { createPool, type Pool } from './pool.js';

// The delivery loop on PostgreSQL where a single SQLite process never has to care: several replicas sending from
// one outbox at once, a sender that dies holding a claim, a loop that closes holding claimed rows.

const now = 1_700_000_000_000;
const from = 'scimtap@example.com';
const email = (i: number, incidentId: number | null = null) => ({
  incidentId,
  event: (incidentId !== null && i % 2 === 0 ? 'resolved' : 'first') as 'first' | 'resolved',
  sequence: i,
  createdAt: now,
  recipients: 'ops@example.com',
  subject: `email ${i}`,
  text: 't',
  html: '<p>h</p>',
  nextAttemptAt: now,
  messageId: `<m${i}@scimtap.test>`,
});

let server: PostgresServer;
let smtp: TestSmtp;
const pools: Pool[] = [];
beforeAll(async () => {
  server = await startPostgres();
}, 60_000);
afterEach(async () => {
  await smtp?.close();
  await Promise.all(pools.splice(0).map((p) => p.end()));
});
afterAll(async () => {
  await server?.stop();
});

/** A fresh database, `n` pools on it (as many replicas), a fresh SMTP server. */
async function fresh(n: number): Promise<Pool[]> {
  const url = await server.createDatabase();
  const made = Array.from({ length: n }, () => createPool(url, { max: 4 }));
  pools.push(...made);
  await migratePostgres(made[0]!);
  smtp = await startSmtp();
  return made;
}

const outboxOn = (pool: Pool, clock: () => number, claimBatch?: number) =>
  createOutbox({
    store: pgOutboxStore(pool, { claimBatch }),
    clock,
    sender: createSmtpSender(smtp.url),
    from,
    recipients: [],
    sendingTimeoutMs: 60_000,
  });

const rows = async (pool: Pool) =>
  (
    await pool.query(
      `select id::int, state, attempts, last_attempt_at::float8 as "lastAttemptAt" from outbox order by id`,
    )
  ).rows as { id: number; state: string; attempts: number; lastAttemptAt: number | null }[];

describe('the delivery loop on PostgreSQL', () => {
  it('two replicas delivering at once send every row exactly once, each incident in order', async () => {
    const [a, b] = await fresh(2);
    // 30 emails without an incident, and 10 incidents with a first email and its resolution each.
    await drizzle(a!)
      .insert(outbox)
      .values([
        ...Array.from({ length: 30 }, (_, i) => email(i + 1)),
        ...Array.from({ length: 20 }, (_, i) => email(i + 31, 100 + Math.floor(i / 2))),
      ]);
    await Promise.all([a!.query('select 1'), b!.query('select 1')]);
    const [one, two] = [outboxOn(a!, () => now), outboxOn(b!, () => now)];
    const [r1, r2] = await Promise.all([one.deliverDue(), two.deliverDue()]);
    await Promise.all([one.close(), two.close()]);

    expect(r1.sent + r2.sent).toBe(50);
    expect(r1.sent).toBeGreaterThan(0);
    expect(r2.sent).toBeGreaterThan(0);
    const ids = smtp.messages.map((m) => m.messageId);
    expect(ids).toHaveLength(50);
    expect(new Set(ids).size).toBe(50);
    expect([...ids].sort()).toEqual(Array.from({ length: 50 }, (_, i) => `<m${i + 1}@scimtap.test>`).sort());
    // An incident's resolution reached the server after its first email, as a reply to it.
    for (let i = 31; i <= 50; i += 2) {
      const firstAt = ids.indexOf(`<m${i}@scimtap.test>`);
      const resolved = smtp.messages.find((m) => m.messageId === `<m${i + 1}@scimtap.test>`);
      expect(ids.indexOf(`<m${i + 1}@scimtap.test>`)).toBeGreaterThan(firstAt);
      expect(resolved?.inReplyTo).toBe(`<m${i}@scimtap.test>`);
    }
    expect((await rows(a!)).every((r) => r.state === 'sent' && r.attempts === 1)).toBe(true);
    const { rows: logged } = await a!.query(
      'select count(*)::int as n, bool_and(ok) as ok from delivery_attempts',
    );
    expect(logged[0]).toEqual({ n: 50, ok: true });
  }, 60_000);

  it('a row whose sender died holding it is sent again after sendingTimeoutMs, with the same Message-ID', async () => {
    const [pool] = await fresh(1);
    await drizzle(pool!)
      .insert(outbox)
      .values([email(1)]);
    // The dead sender: it claimed the row, then never said how the send went.
    const [held] = await claimDue(pool!, { receiver: 'email', now, sendingTimeoutMs: 60_000 });
    expect(held?.id).toBe(1);
    let t = now + 59_999;
    const live = outboxOn(pool!, () => t);
    expect(await live.deliverDue()).toMatchObject({ sent: 0 });
    expect(smtp.messages).toHaveLength(0);
    t = now + 60_000;
    expect(await live.deliverDue()).toMatchObject({ sent: 1 });
    expect(smtp.messages.map((m) => m.messageId)).toEqual(['<m1@scimtap.test>']);
    expect(await rows(pool!)).toEqual([{ id: 1, state: 'sent', attempts: 2, lastAttemptAt: now + 60_000 }]);
    // The dead sender coming back to life cannot change the row any more: its claim is not the row's claim.
    const store = pgOutboxStore(pool!);
    const late = { startedAt: now, durationMs: 1, responseCode: 452, error: 'late', nextAttemptAt: now };
    expect(await store.retry(held!, late)).toBe(false);
    expect((await rows(pool!))[0]?.state).toBe('sent');
    await live.close();
  });

  it('a loop closing in the middle of a batch hands back the rows it claimed but did not send', async () => {
    const [pool] = await fresh(1);
    await drizzle(pool!)
      .insert(outbox)
      .values(Array.from({ length: 5 }, (_, i) => ({ ...email(i + 1), lastAttemptAt: now - 1 })));
    const loop = outboxOn(pool!, () => now, 5);
    const run = loop.deliverDue();
    await smtp.waitFor(1);
    await loop.close();
    const report = await run;
    const after = await rows(pool!);
    expect(report.sent).toBe(smtp.messages.length);
    expect(report.sent).toBeLessThan(5);
    expect(after.filter((r) => r.state === 'sent')).toHaveLength(report.sent);
    // Not sent: as before the claim, due again at once for the next loop.
    const rest = after.filter((r) => r.state !== 'sent');
    expect(rest).toEqual(
      rest.map((r) => ({ id: r.id, state: 'unsent', attempts: 0, lastAttemptAt: now - 1 })),
    );
    const next = outboxOn(pool!, () => now);
    expect(await next.deliverDue()).toMatchObject({ sent: 5 - report.sent });
    await next.close();
    expect(new Set(smtp.messages.map((m) => m.messageId)).size).toBe(5);
  });
});
