import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createOutbox } from '../../server/notify/outbox.js';
import { createSmtpSender } from '../../server/notify/sender.js';
import { type Db, openDatabase } from '../../server/store/db.js';
import { queueEmail, sqliteOutboxStore } from '../../server/store/queries/outbox.js';
import { startSmtp, type TestSmtp } from '../helpers/smtp.js';

const T0 = Date.UTC(2025, 0, 6, 9, 0, 0);

describe('outbox delivery over a real SMTP server', () => {
  let db: Db;
  let smtp: TestSmtp;
  let now: number;
  const clock = () => now;

  beforeEach(async () => {
    now = T0;
    db = openDatabase(join(mkdtempSync(join(tmpdir(), 'scimtap-outbox-')), 'db.sqlite'));
    smtp = await startSmtp();
  });
  afterEach(async () => {
    await smtp.close();
    db.$client.close();
  });

  const queue = (
    event: 'first' | 'reminder' | 'resolved' = 'first',
    sequence = 1,
    incidentId: number | null = 1,
  ) =>
    queueEmail(db, {
      incidentId,
      event,
      sequence,
      reasonKey: 'r',
      recipients: ['ops@example.com'],
      subject: `[FIRING critical] App: ${event} ${sequence}`,
      text: 'plain body',
      html: '<p>html body</p>',
      from: 'scimtap@example.com',
      now,
    });
  /** a test email queued before anyone was configured to receive it */
  const queueTestWithoutRecipients = () =>
    queueEmail(db, {
      incidentId: null,
      event: 'test',
      sequence: now,
      reasonKey: null,
      recipients: [],
      subject: 'test',
      text: 't',
      html: '<p>t</p>',
      from: 'scimtap@example.com',
      now,
    })!;
  const outboxFor = (over: Partial<Parameters<typeof createOutbox>[0]> = {}) =>
    createOutbox({
      store: sqliteOutboxStore(db),
      clock,
      sender: createSmtpSender(smtp.url),
      from: 'scimtap@example.com',
      recipients: [],
      ...over,
    });
  const row = (id: number) =>
    db.$client.prepare('select * from outbox where id = ?').get(id) as Record<string, unknown>;
  const attempts = (id: number) =>
    db.$client.prepare('select * from delivery_attempts where outbox_id = ? order by id').all(id) as Record<
      string,
      unknown
    >[];

  it('sends a queued email once, with text, HTML and its fixed Message-ID, and logs the attempt', async () => {
    const id = queue()!;
    const outbox = outboxFor();
    const report = await outbox.deliverDue();
    expect(report).toMatchObject({ sent: 1, retrying: 0, failed: 0 });
    expect(smtp.messages).toHaveLength(1);
    const [mail] = smtp.messages;
    expect(mail.subject).toBe('[FIRING critical] App: first 1');
    expect(mail.text?.trim()).toBe('plain body');
    expect(mail.html).toContain('<p>html body</p>');
    expect(mail.messageId).toBe(row(id).message_id);
    expect(row(id)).toMatchObject({ state: 'sent', attempts: 1, sent_at: T0 });
    expect(attempts(id)).toHaveLength(1);
    expect(attempts(id)[0]).toMatchObject({ ok: 1, response_code: 250 });
    // a second run finds nothing due: never sent twice
    await outbox.deliverDue();
    expect(smtp.messages).toHaveLength(1);
    await outbox.close();
  });

  it('the same (incident, event, sequence) cannot be queued twice', () => {
    expect(queue('first', 1)).not.toBeNull();
    expect(queue('first', 1)).toBeNull();
    expect(queue('reminder', 1)).not.toBeNull();
  });

  it('connection refused is retried with exponential backoff until the server is back, then delivered exactly once', async () => {
    const id = queue()!;
    await smtp.down();
    const outbox = outboxFor();
    expect(await outbox.deliverDue()).toMatchObject({ retrying: 1 });
    expect(row(id)).toMatchObject({ state: 'unsent', attempts: 1, next_attempt_at: T0 + 30_000 });
    expect(String(row(id).last_error)).toMatch(/ECONNECTION|ESOCKET|ECONNREFUSED/);
    // not due yet: nothing happens
    now = T0 + 29_000;
    expect(await outbox.deliverDue()).toMatchObject({ retrying: 0, sent: 0 });
    now = T0 + 30_000;
    await outbox.deliverDue();
    expect(row(id)).toMatchObject({ attempts: 2, next_attempt_at: T0 + 30_000 + 60_000 });
    // an hour later the server is back
    await smtp.up();
    now = T0 + 3_600_000;
    expect(await outbox.deliverDue()).toMatchObject({ sent: 1 });
    await outbox.deliverDue();
    expect(smtp.messages).toHaveLength(1);
    expect(attempts(id).map((a) => a.ok)).toEqual([0, 0, 1]);
    expect(attempts(id)[0].retryable).toBe(1);
    await outbox.close();
  });

  it('a 4xx reply is retried; a 5xx reply (bad address) fails for good', async () => {
    const transient = queue('first', 1, 1)!;
    smtp.rcptReply = 452;
    const outbox = outboxFor();
    await outbox.deliverDue();
    expect(row(transient)).toMatchObject({ state: 'unsent' });
    expect(attempts(transient)[0]).toMatchObject({ ok: 0, retryable: 1, response_code: 452 });

    smtp.rcptReply = 550;
    now += 60_000;
    await outbox.deliverDue();
    expect(row(transient)).toMatchObject({ state: 'failed', attempts: 2 });
    expect(attempts(transient)[1]).toMatchObject({ ok: 0, retryable: 0, response_code: 550 });
    now += 3_600_000;
    smtp.rcptReply = null;
    await outbox.deliverDue();
    expect(smtp.messages).toHaveLength(0);
    await outbox.close();
  });

  it('without SMTP, rows stay unsent and untouched', async () => {
    const id = queue()!;
    const outbox = createOutbox({
      store: sqliteOutboxStore(db),
      clock,
      sender: null,
      from: 'scimtap@example.com',
      recipients: ['a@example.com'],
    });
    expect(outbox.configured).toBe(false);
    expect(await outbox.deliverDue()).toMatchObject({ sent: 0 });
    expect(row(id)).toMatchObject({ state: 'unsent', attempts: 0, last_error: null });
    await outbox.close();
  });

  it('a reminder still waiting behind a newer email about the same incident is superseded, not sent', async () => {
    const reminder = queue('reminder', 1)!;
    const resolved = queue('resolved', 1)!;
    const outbox = outboxFor();
    expect(await outbox.deliverDue()).toMatchObject({ sent: 1, superseded: 1 });
    expect(row(reminder).state).toBe('superseded');
    expect(row(resolved).state).toBe('sent');
    expect(smtp.messages.map((m) => m.subject)).toEqual(['[FIRING critical] App: resolved 1']);
    await outbox.close();
  });

  it('with nobody to send to, a row waits with the reason on it', async () => {
    const id = queueTestWithoutRecipients();
    const outbox = outboxFor();
    await outbox.deliverDue();
    expect(row(id)).toMatchObject({
      state: 'unsent',
      attempts: 0,
      last_error: 'no recipients: set SCIMTAP_NOTIFY_TO',
    });
    expect(smtp.messages).toHaveLength(0);
    await outbox.close();
  });

  it('rows queued without recipients go to the configured ones', async () => {
    const id = queueTestWithoutRecipients();
    const outbox = outboxFor({ recipients: ['late@example.com'] });
    await outbox.deliverDue();
    expect(row(id)).toMatchObject({ state: 'sent', recipients: 'late@example.com' });
    expect((smtp.messages[0].to as { text: string }).text).toBe('late@example.com');
    await outbox.close();
  });
});
