import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import type { ParsedMail } from 'mailparser';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { addAlertRows, T } from '../../../test/helpers/alert-rows.js';
import { type BothStores, recordedOnBothStores } from '../../../test/helpers/both-stores.js';
import { type PostgresServer, startPostgres } from '../../../test/helpers/postgres.js';
import { startSmtp, type TestSmtp } from '../../../test/helpers/smtp.js';
import { createOutbox } from '../../notify/outbox.js';
import type { OutboxStore } from '../../notify/outbox-store.js';
import { createSmtpSender } from '../../notify/sender.js';
import { type Db, openDatabase } from '../db.js';
import { queueEmail, queueMessage, sqliteOutboxStore } from '../queries/outbox.js';
import * as schema from '../schema/index.js';
import * as pgSchema from '../schema-pg/index.js';
import { type PgDb, pgDatabase } from './db.js';
import { migratePostgres } from './migrate.js';
import { pgOutboxStore } from './outbox.js';
import { createPool, type Pool } from './pool.js';

// Differential: the same outbox rows, queued on SQLite by queueEmail/queueMessage and copied into PostgreSQL
// with their ids and Message-IDs, delivered by the same loop over each store through a real SMTP server, with
// the server refusing for a while (4xx: retried) and for good (5xx: failed). Both stores must end with the
// same rows and delivery log, and the servers must have received the same emails.

const T0 = Date.UTC(2025, 0, 6, 9, 0, 0);
const from = 'scimtap@example.com';

let server: PostgresServer;
const cleanup: (() => Promise<void> | void)[] = [];
beforeAll(async () => {
  server = await startPostgres();
}, 60_000);
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});
afterAll(async () => {
  await server?.stop();
});

interface Both {
  sqlite: Db;
  pg: PgDb;
  pool: Pool;
}

async function bothStores(): Promise<Both> {
  const dir = mkdtempSync(join(tmpdir(), 'scimtap-outbox-both-'));
  const sqlite = openDatabase(join(dir, 'db.sqlite'));
  const pool = createPool(await server.createDatabase(), { max: 4 });
  await migratePostgres(pool);
  cleanup.push(async () => {
    sqlite.$client.close();
    await pool.end();
    rmSync(dir, { recursive: true, force: true });
  });
  return { sqlite, pg: pgDatabase(pool), pool };
}

/** Queues on SQLite, then copies the row, id and Message-ID included, into PostgreSQL. */
async function queued(both: Both, id: number | null): Promise<number> {
  if (id === null) throw new Error('not queued');
  const row = both.sqlite.select().from(schema.outbox).where(eq(schema.outbox.id, id)).get();
  await both.pg.insert(pgSchema.outbox).values(row!);
  return id;
}

const email = (
  both: Both,
  now: number,
  e: { incidentId: number | null; event: 'first' | 'reminder' | 'resolved' | 'test'; sequence: number },
  recipients = ['ops@example.com'],
) =>
  queued(
    both,
    queueEmail(both.sqlite, {
      ...e,
      reasonKey: e.incidentId === null ? null : 'r',
      recipients,
      subject: `${e.event} #${e.incidentId} ${e.sequence}`,
      text: `text of ${e.event}`,
      html: `<p>${e.event}</p>`,
      from,
      now,
    }),
  );

/** Each store's rows, the delivery log without its measured durations. */
async function states(both: Both) {
  const sqliteAttempts = both.sqlite
    .select()
    .from(schema.deliveryAttempts)
    .orderBy(schema.deliveryAttempts.id);
  const pgAttempts = await both.pg
    .select()
    .from(pgSchema.deliveryAttempts)
    .orderBy(pgSchema.deliveryAttempts.id);
  const timeless = <R extends { durationMs: number }>(rows: R[]) =>
    rows.map((r) => ({ ...r, durationMs: 0 }));
  return {
    sqlite: {
      outbox: both.sqlite.select().from(schema.outbox).orderBy(schema.outbox.id).all(),
      attempts: timeless(sqliteAttempts.all()),
    },
    pg: {
      outbox: await both.pg.select().from(pgSchema.outbox).orderBy(pgSchema.outbox.id),
      attempts: timeless(pgAttempts),
    },
  };
}

const received = (mails: ParsedMail[]) =>
  mails
    .map((m) => ({
      messageId: m.messageId,
      inReplyTo: m.inReplyTo ?? null,
      subject: m.subject,
      to: (m.to as { text: string }).text,
      text: m.text?.trim(),
    }))
    .sort((a, b) => String(a.messageId).localeCompare(String(b.messageId)));

describe('delivering the outbox on both stores', () => {
  it('ends with the same rows, attempts and emails: sent, threaded, retried, failed, superseded, waiting', async () => {
    const both = await bothStores();
    let now = T0;
    // Incident 1: its first email, then its resolution (a reply in its thread, sent only after the first).
    const first = await email(both, now, { incidentId: 1, event: 'first', sequence: 1 });
    // Incident 2: a reminder overtaken by the resolution queued behind it.
    const reminder = await email(both, now, { incidentId: 2, event: 'reminder', sequence: 1 });
    const resolved1 = await email(both, now, { incidentId: 1, event: 'resolved', sequence: 1 });
    const resolved2 = await email(both, now, { incidentId: 2, event: 'resolved', sequence: 1 });
    // A test email without recipients, none configured: it waits with the reason on it.
    const nobody = await email(both, now, { incidentId: null, event: 'test', sequence: now }, []);
    // A message for a receiver no longer configured: it waits with the reason on it.
    const orphan = await queued(
      both,
      queueMessage(both.sqlite, {
        receiver: 'oncall',
        target: 'events.pagerduty.com key …abcd',
        incidentId: 1,
        event: 'first',
        sequence: 1,
        reasonKey: 'r',
        subject: 'first',
        body: '{}',
        now,
      }),
    );

    const run = async (store: OutboxStore, smtp: TestSmtp, act: (step: number) => Promise<void>) => {
      const outbox = createOutbox({
        store,
        clock: () => now,
        sender: createSmtpSender(smtp.url),
        from,
        recipients: [],
      });
      const reports = [];
      for (const step of [0, 1, 2]) {
        await act(step);
        reports.push(await outbox.deliverDue());
      }
      await outbox.close();
      return reports;
    };
    let late = 0;
    const smtps = [await startSmtp(), await startSmtp()];
    cleanup.push(async () => {
      await Promise.all(smtps.map((s) => s.close()));
    });
    // Each store: at T0 the server is busy (452: retried); 10 s later a bad address (550: failed) for an email
    // queued then; at T0 + 40 s the server takes the retried ones.
    const steps = (both: Both, smtp: TestSmtp, store: 'sqlite' | 'pg') => async (step: number) => {
      now = T0 + [0, 10_000, 40_000][step]!;
      smtp.rcptReply = [452, 550, null][step]!;
      if (step === 1 && store === 'sqlite') {
        late = await email(both, now, { incidentId: null, event: 'test', sequence: now });
      }
    };
    const sqliteReports = await run(
      sqliteOutboxStore(both.sqlite),
      smtps[0]!,
      steps(both, smtps[0]!, 'sqlite'),
    );
    // The email queued at step 1 is copied to PostgreSQL already: it waits there until its time comes.
    const pgReports = await run(pgOutboxStore(both.pool), smtps[1]!, steps(both, smtps[1]!, 'pg'));

    expect(sqliteReports).toEqual([
      { sent: 0, retrying: 2, failed: 0, superseded: 1 },
      { sent: 0, retrying: 0, failed: 1, superseded: 0 },
      { sent: 3, retrying: 0, failed: 0, superseded: 0 },
    ]);
    expect(pgReports).toEqual(sqliteReports);
    const { sqlite, pg } = await states(both);
    expect(pg).toEqual(sqlite);
    expect(received(smtps[1]!.messages)).toEqual(received(smtps[0]!.messages));

    const row = (id: number) => sqlite.outbox.find((r) => r.id === id)!;
    expect(row(first)).toMatchObject({ state: 'sent', attempts: 2 });
    expect(row(resolved1)).toMatchObject({ state: 'sent', attempts: 1 });
    expect(row(reminder)).toMatchObject({ state: 'superseded', attempts: 0 });
    expect(row(nobody)).toMatchObject({
      state: 'unsent',
      attempts: 0,
      lastError: 'no recipients: set SCIMTAP_NOTIFY_TO',
    });
    expect(row(orphan)).toMatchObject({ state: 'unsent', lastError: 'receiver "oncall" is not configured' });
    expect(sqlite.attempts.map((a) => [a.outboxId, a.ok, a.retryable, a.responseCode])).toEqual([
      [first, false, true, 452],
      [resolved2, false, true, 452],
      [late, false, false, 550],
      [first, true, null, 250],
      [resolved2, true, null, 250],
      [resolved1, true, null, 250],
    ]);
    const resolution = received(smtps[0]!.messages).find((m) => m.subject === 'resolved #1 1');
    expect(resolution?.inReplyTo).toBe(row(first).messageId);
  }, 60_000);
});

// The store's statements one by one, over the recording plus test/helpers/alert-rows.ts (every outbox state
// and event, other receivers, a claim that timed out), each answered alike by both stores.
describe('the store’s statements on both stores', () => {
  let both: BothStores;
  let outboxIds: number[];
  let incidentIds: number[];
  beforeAll(async () => {
    both = await recordedOnBothStores(server);
    ({ outboxIds, incidentIds } = await addAlertRows(both));
    // The rows went in with SQLite's ids: the identities continue after them, as migrate-store leaves them.
    for (const table of ['outbox', 'delivery_attempts']) {
      await both.pool.query(
        `select setval(pg_get_serial_sequence($1, 'id'), (select max(id) from ${table}))`,
        [table],
      );
    }
  }, 60_000);
  afterAll(async () => {
    await both?.close();
  });
  const stores = () => ({ sqlite: sqliteOutboxStore(both.sqlite), pg: pgOutboxStore(both.pool) });

  it('thread, stillFiring and orphans', async () => {
    const { sqlite, pg } = stores();
    const threads: (string | null)[] = [];
    for (const incident of [...Array.from({ length: 11 }, (_, i) => i + 1), 9999]) {
      for (const id of [0, ...outboxIds, 9999]) {
        const expected = await sqlite.thread(incident, id);
        threads.push(expected);
        expect(await pg.thread(incident, id), `${incident} ${id}`).toBe(expected);
      }
    }
    expect(threads.some((t) => t !== null)).toBe(true);
    for (const receiver of ['email', 'slack', 'oncall', 'nobody']) {
      expect(await pg.stillFiring(receiver), receiver).toEqual(await sqlite.stillFiring(receiver));
    }
    for (const configured of [['slack', 'oncall'], ['slack'], []]) {
      await sqlite.orphans(configured);
      await pg.orphans(configured);
      const { sqlite: a, pg: b } = await states(both);
      expect(b.outbox, configured.join()).toEqual(a.outbox);
    }
    expect(await sqlite.stillFiring('email')).not.toEqual([]);
    expect(incidentIds).toHaveLength(3);
  });

  const byRow = <R extends { id: number; outboxId: number; at: number }>(rows: R[]) =>
    rows.map(({ id: _, ...r }) => r).sort((x, y) => x.outboxId - y.outboxId || x.at - y.at);

  it('claims, then marks sent, retried and failed alike, other receivers included', async () => {
    const { sqlite, pg } = stores();
    let now = T + 10 * 60_000;
    const clock = () => now;
    /** the loop's passes until one finds nothing, each claimed row marked sent, retried or failed by its id */
    const drain = async (store: OutboxStore, receiver: string, fallbackRecipients: boolean) => {
      const steps: string[] = [];
      for (let found = true; found; ) {
        found = false;
        for await (const step of store.claimDue({
          receiver,
          clock,
          sendingTimeoutMs: 60_000,
          fallbackRecipients,
        })) {
          found = true;
          steps.push(`${step.kind} ${step.row.id} ${step.row.attempts} ${step.row.messageId}`);
          if (step.kind === 'superseded') continue;
          const a = { startedAt: step.startedAt, durationMs: 5, responseCode: 200 + step.row.id };
          const done = [
            () =>
              store.sent(step.row, {
                ...a,
                at: now,
                response: 'ok',
                recipients: receiver === 'email' ? 'x@y' : null,
              }),
            () => store.retry(step.row, { ...a, error: 'busy', nextAttemptAt: now + 60_000 }),
            () => store.fail(step.row, { ...a, error: 'bad' }),
          ][step.row.id % 3]!;
          expect(await done()).toBe(true);
        }
      }
      return steps.sort();
    };
    const claimed: string[] = [];
    for (const [receiver, fallback] of [
      ['email', false],
      ['email', true],
      ['slack', true],
      ['oncall', true],
    ] as const) {
      now += 120_000;
      const expected = await drain(sqlite, receiver, fallback);
      claimed.push(...expected);
      expect(await drain(pg, receiver, fallback), `${receiver} ${fallback}`).toEqual(expected);
      const { sqlite: a, pg: b } = await states(both);
      expect(b.outbox, `${receiver} ${fallback}`).toEqual(a.outbox);
      // Each store claims in batches of its own (SQLite 20, PostgreSQL 3): one incident's next message may be
      // marked before or after another incident's, so the log's ids may differ, not what it says of each row.
      expect(byRow(b.attempts), `${receiver} ${fallback}`).toEqual(byRow(a.attempts));
    }
    expect(claimed.length).toBeGreaterThan(10);
    // A claim that timed out is taken again; the test email without recipients only once there is a fallback.
    expect(claimed).toContain('claimed 15 1 <email.9.reasonChanged.3000000000@scimtap>');
    expect(claimed.filter((c) => c.startsWith('claimed 18 '))).toHaveLength(1);
  });
});
