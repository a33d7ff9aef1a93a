import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { NotifyEvent } from '../alerts/types.js';
import type { Db } from '../store/db.js';
import type { Sender } from './sender.js';

export interface QueuedEmail {
  incidentId: number | null;
  event: NotifyEvent;
  sequence: number;
  reasonKey: string | null;
  recipients: string[];
  subject: string;
  text: string;
  html: string;
  /** the sender address: its domain names the Message-ID */
  from: string;
  now: number;
}

/**
 * Writes an email into the outbox (call it inside the transaction that changes the incident). Returns the row id,
 * or null when the same (incident, event, sequence) is already there: a decision is never queued twice.
 */
export function queueEmail(db: Db, e: QueuedEmail): number | null {
  const domain = /@([^>\s]+)>?\s*$/.exec(e.from)?.[1] ?? 'scimtap.local';
  const row = db.$client
    .prepare(
      `insert into outbox (incident_id, event, sequence, reason_key, created_at, recipients, subject, text, html,
        state, attempts, next_attempt_at, message_id)
       values (?, ?, ?, ?, ?, ?, ?, ?, ?, 'unsent', 0, ?, ?)
       on conflict (incident_id, event, sequence) do nothing returning id`,
    )
    .get(
      e.incidentId,
      e.event,
      e.sequence,
      e.reasonKey,
      e.now,
      e.recipients.join(','),
      e.subject,
      e.text,
      e.html,
      e.now,
      `<scimtap.${randomUUID()}@${domain}>`,
    ) as { id: number } | undefined;
  return row?.id ?? null;
}

/** Exponential backoff: base, 2×base, 4×base ... capped. */
export function backoffMs(attempts: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, attempts - 1));
}

export interface OutboxOptions {
  db: Db;
  clock: () => number;
  /** null: no SMTP configured, emails stay `unsent` and visible */
  sender: Sender | null;
  from: string;
  /** used for rows queued while SCIMTAP_NOTIFY_TO was unset */
  recipients: string[];
  logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** a row marked `sending` whose process died is retried after this (same Message-ID) */
  sendingTimeoutMs?: number;
}

export interface DeliveryReport {
  sent: number;
  retrying: number;
  failed: number;
  superseded: number;
}

export interface Outbox {
  /** send every due row, one at a time; concurrent calls share one run */
  deliverDue(): Promise<DeliveryReport>;
  /** deliver soon, in the background */
  kick(): void;
  readonly configured: boolean;
  /** wait for the run in progress, then stop taking new ones */
  close(): Promise<void>;
}

interface DueRow {
  id: number;
  incidentId: number | null;
  event: string;
  recipients: string;
  subject: string;
  text: string;
  html: string;
  attempts: number;
  messageId: string;
}

/**
 * Delivery from the outbox (ARCHITECTURE §6): written before sending, marked `sending` before the SMTP
 * conversation, then `sent`, retried with backoff while the error is retryable, `failed` when it is permanent.
 * Every attempt lands in `delivery_attempts`.
 */
export function createOutbox({
  db,
  clock,
  sender,
  from,
  recipients,
  logger,
  retryBaseMs = 30_000,
  retryMaxMs = 15 * 60_000,
  sendingTimeoutMs = 5 * 60_000,
}: OutboxOptions): Outbox {
  const sqlite = db.$client;
  const q = {
    due: sqlite.prepare(`select id, incident_id as incidentId, event, recipients, subject, text, html, attempts,
        message_id as messageId from outbox where state in ('unsent', 'sending') and next_attempt_at <= ?
        order by id limit 20`),
    newer: sqlite
      .prepare(`select 1 from outbox where incident_id = ? and id > ? and state <> 'superseded' limit 1`)
      .pluck(),
    thread: sqlite
      .prepare('select message_id from outbox where incident_id = ? and id < ? order by id limit 1')
      .pluck(),
    noRecipients: sqlite.prepare(
      `update outbox set last_error = 'no recipients: set SCIMTAP_NOTIFY_TO' where id = ? and last_error is null`,
    ),
    supersede: sqlite.prepare(`update outbox set state = 'superseded' where id = ?`),
    claim: sqlite.prepare(`update outbox set state = 'sending', attempts = attempts + 1, last_attempt_at = ?,
        next_attempt_at = ? where id = ? and state in ('unsent', 'sending')`),
    sent: sqlite.prepare(`update outbox set state = 'sent', sent_at = ?, response = ?, last_error = null,
        recipients = ? where id = ?`),
    retry: sqlite.prepare(
      `update outbox set state = 'unsent', next_attempt_at = ?, last_error = ? where id = ?`,
    ),
    fail: sqlite.prepare(`update outbox set state = 'failed', last_error = ?, response = ? where id = ?`),
    attempt: sqlite.prepare(`insert into delivery_attempts (outbox_id, at, duration_ms, ok, retryable, error,
        response_code, response) values (?, ?, ?, ?, ?, ?, ?, ?)`),
  };
  let running: Promise<DeliveryReport> | null = null;
  let again = false;
  let closed = false;

  async function run(): Promise<DeliveryReport> {
    const report: DeliveryReport = { sent: 0, retrying: 0, failed: 0, superseded: 0 };
    if (!sender) return report;
    do {
      again = false;
      const rows = q.due.all(clock()) as DueRow[];
      let handled = 0;
      for (const row of rows) {
        if (closed) return report;
        // A reminder still waiting when a newer email about the same incident exists says nothing new.
        if (row.event === 'reminder' && row.incidentId !== null && q.newer.get(row.incidentId, row.id)) {
          q.supersede.run(row.id);
          report.superseded++;
          handled++;
          continue;
        }
        const to = row.recipients ? row.recipients.split(',') : recipients;
        if (to.length === 0) {
          // Nobody to send to: say so on the row, once, and leave it waiting (visible) for a configured restart.
          q.noRecipients.run(row.id);
          continue;
        }
        const startedAt = clock();
        if (q.claim.run(startedAt, startedAt + sendingTimeoutMs, row.id).changes === 0) continue;
        handled++;
        const t0 = performance.now();
        const result = await sender.send({
          from,
          to,
          subject: row.subject,
          text: row.text,
          html: row.html,
          messageId: row.messageId,
          inReplyTo:
            row.incidentId === null
              ? undefined
              : ((q.thread.get(row.incidentId, row.id) as string | undefined) ?? undefined),
        });
        const durationMs = Math.round(performance.now() - t0);
        const at = clock();
        if (result.ok) {
          sqlite.transaction(() => {
            q.attempt.run(row.id, startedAt, durationMs, 1, null, null, result.responseCode, result.response);
            q.sent.run(at, result.response, to.join(','), row.id);
          })();
          report.sent++;
          logger?.info(
            { outboxId: row.id, event: row.event, incidentId: row.incidentId },
            'notify: email sent',
          );
        } else {
          const attempts = row.attempts + 1;
          sqlite.transaction(() => {
            q.attempt.run(
              row.id,
              startedAt,
              durationMs,
              0,
              result.retryable ? 1 : 0,
              result.error,
              result.responseCode,
              null,
            );
            if (result.retryable)
              q.retry.run(at + backoffMs(attempts, retryBaseMs, retryMaxMs), result.error, row.id);
            else q.fail.run(result.error, null, row.id);
          })();
          if (result.retryable) report.retrying++;
          else report.failed++;
          logger?.warn(
            { outboxId: row.id, attempts, retryable: result.retryable, error: result.error },
            result.retryable ? 'notify: email not sent, will retry' : 'notify: email rejected permanently',
          );
        }
      }
      if (rows.length === 20 && handled > 0) again = true;
    } while (again && !closed);
    return report;
  }

  function deliverDue(): Promise<DeliveryReport> {
    if (running) {
      again = true;
      return running;
    }
    running = run().finally(() => {
      running = null;
    });
    return running;
  }

  return {
    deliverDue,
    kick() {
      if (closed || !sender) return;
      deliverDue().catch((err) => logger?.error({ err }, 'notify: delivery run failed'));
    },
    configured: sender !== null,
    async close() {
      closed = true;
      await running?.catch(() => undefined);
      sender?.close();
    },
  };
}
