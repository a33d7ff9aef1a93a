import { randomUUID } from 'node:crypto';
import type { NotifyEvent } from '../../alerts/types.js';
import type { Claimed, ClaimRequest, OutboxStore } from '../../notify/outbox-store.js';
import type { Db } from '../db.js';

// The outbox table's SQL: queueing a message (inside the transaction that decides it), and the statements the
// delivery loop (notify/outbox.ts) claims, marks and retries with.

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

/** A new email's Message-ID, named after the sender address's domain (PostgreSQL's queueing uses it too). */
export function emailMessageId(from: string): string {
  const domain = /@([^>\s]+)>?\s*$/.exec(from)?.[1] ?? 'scimtap.local';
  return `<scimtap.${randomUUID()}@${domain}>`;
}

/**
 * Writes an email into the outbox (call it inside the transaction that changes the incident). Returns the row id,
 * or null when the same (incident, event, sequence) is already there: a decision is never queued twice.
 */
export function queueEmail(db: Db, e: QueuedEmail): number | null {
  const row = db.$client
    .prepare(
      `insert into outbox (incident_id, event, sequence, reason_key, created_at, recipients, subject, text, html,
        state, attempts, next_attempt_at, message_id)
       values (?, ?, ?, ?, ?, ?, ?, ?, ?, 'unsent', 0, ?, ?)
       on conflict (receiver, incident_id, event, sequence) do nothing returning id`,
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
      emailMessageId(e.from),
    ) as { id: number } | undefined;
  return row?.id ?? null;
}

export interface QueuedMessage {
  /** the receiver's name (`slack`, `oncall` ...) */
  receiver: string;
  /** where it goes, masked: shown in the dashboard */
  target: string;
  incidentId: number | null;
  event: NotifyEvent;
  sequence: number;
  reasonKey: string | null;
  subject: string;
  /** the JSON body to send, without its secrets */
  body: string;
  now: number;
}

/** Writes a chat, paging or webhook message into the outbox, like `queueEmail`: null when already queued. */
export function queueMessage(db: Db, m: QueuedMessage): number | null {
  const row = db.$client
    .prepare(
      `insert into outbox (receiver, incident_id, event, sequence, reason_key, created_at, recipients, subject, text,
        html, state, attempts, next_attempt_at, message_id)
       values (?, ?, ?, ?, ?, ?, ?, ?, ?, '', 'unsent', 0, ?, ?)
       on conflict (receiver, incident_id, event, sequence) do nothing returning id`,
    )
    .get(
      m.receiver,
      m.incidentId,
      m.event,
      m.sequence,
      m.reasonKey,
      m.now,
      m.target,
      m.subject,
      m.body,
      m.now,
      randomUUID(),
    ) as { id: number } | undefined;
  return row?.id ?? null;
}

export interface DueRow {
  id: number;
  receiver: string;
  incidentId: number | null;
  event: string;
  recipients: string;
  subject: string;
  text: string;
  html: string;
  attempts: number;
  messageId: string;
}

/** The delivery loop's statements, prepared once. */
export function outboxQueries(db: Db) {
  const sqlite = db.$client;
  return {
    due: sqlite.prepare(`select id, receiver, incident_id as incidentId, event, recipients, subject, text, html,
        attempts, message_id as messageId from outbox o
        where receiver = ? and state in ('unsent', 'sending') and next_attempt_at <= ?
          and (incident_id is null or not exists (select 1 from outbox p where p.incident_id = o.incident_id
            and p.receiver = o.receiver and p.id < o.id and p.state in ('unsent', 'sending')))
        order by id limit 20`),
    newer: sqlite
      .prepare(
        `select 1 from outbox where incident_id = ? and receiver = ? and id > ? and state <> 'superseded' limit 1`,
      )
      .pluck(),
    thread: sqlite
      .prepare(
        `select message_id from outbox where incident_id = ? and receiver = 'email' and id < ? order by id limit 1`,
      )
      .pluck(),
    // The last message each firing incident got on this receiver, unless it said "resolved".
    stillFiring: sqlite
      .prepare(
        `select o.text from outbox o join incidents i on i.id = o.incident_id
         where o.receiver = ? and i.state = 'firing' and o.event <> 'resolved'
           and o.id = (select max(p.id) from outbox p where p.receiver = o.receiver
             and p.incident_id = o.incident_id and p.state = 'sent')
         order by o.incident_id limit 500`,
      )
      .pluck(),
    noRecipients: sqlite.prepare(
      `update outbox set last_error = 'no recipients: set SCIMTAP_NOTIFY_TO' where id = ? and last_error is null`,
    ),
    supersede: sqlite.prepare(`update outbox set state = 'superseded' where id = ?`),
    claim: sqlite.prepare(`update outbox set state = 'sending', attempts = attempts + 1, last_attempt_at = ?,
        next_attempt_at = ? where id = ? and state in ('unsent', 'sending')`),
    sent: sqlite.prepare(`update outbox set state = 'sent', sent_at = ?, response = ?, last_error = null,
        recipients = ? where id = ?`),
    sentNotEmail: sqlite.prepare(
      `update outbox set state = 'sent', sent_at = ?, response = ?, last_error = null where id = ?`,
    ),
    retry: sqlite.prepare(
      `update outbox set state = 'unsent', next_attempt_at = ?, last_error = ? where id = ?`,
    ),
    fail: sqlite.prepare(`update outbox set state = 'failed', last_error = ?, response = ? where id = ?`),
    /** rows of receivers no longer configured get a reason, once */
    orphans: sqlite.prepare(
      `update outbox set last_error = 'receiver "' || receiver || '" is not configured'
       where state = 'unsent' and receiver <> 'email' and last_error is null
         and receiver not in (select value from json_each(?))`,
    ),
    anyOrphan: sqlite
      .prepare(
        `select 1 from outbox where state = 'unsent' and receiver <> 'email' and last_error is null
         and receiver not in (select value from json_each(?)) limit 1`,
      )
      .pluck(),
    attempt: sqlite.prepare(`insert into delivery_attempts (outbox_id, at, duration_ms, ok, retryable, error,
        response_code, response) values (?, ?, ?, ?, ?, ?, ?, ?)`),
  };
}

const noRecipients = (row: DueRow, fallbackRecipients: boolean) =>
  row.receiver === 'email' && !row.recipients && !fallbackRecipients;

/**
 * The delivery loop's store on SQLite: one process sends, so a claim is the update of the row about to be sent,
 * just before its send, and a pass is one read of up to 20 due rows.
 */
export function sqliteOutboxStore(db: Db): OutboxStore {
  const q = outboxQueries(db);
  const sqlite = db.$client;
  return {
    async *claimDue({ receiver, clock, sendingTimeoutMs, fallbackRecipients }: ClaimRequest) {
      const rows = q.due.all(receiver, clock()) as DueRow[];
      for (const row of rows) {
        if (
          row.event === 'reminder' &&
          row.incidentId !== null &&
          q.newer.get(row.incidentId, receiver, row.id)
        ) {
          q.supersede.run(row.id);
          yield { kind: 'superseded', row } satisfies Claimed;
          continue;
        }
        if (noRecipients(row, fallbackRecipients)) {
          q.noRecipients.run(row.id);
          continue;
        }
        const startedAt = clock();
        if (q.claim.run(startedAt, startedAt + sendingTimeoutMs, row.id).changes === 0) continue;
        yield { kind: 'claimed', row, startedAt } satisfies Claimed;
      }
    },
    async thread(incidentId, beforeId) {
      return (q.thread.get(incidentId, beforeId) as string | undefined) ?? null;
    },
    async stillFiring(receiver) {
      return q.stillFiring.all(receiver) as string[];
    },
    async orphans(configured) {
      // Read first: an UPDATE takes the write lock even when it changes nothing, and the log writer thread may hold
      // it for a batch (this connection waits 10 ms for it, the proxy's thread being synchronous).
      const json = JSON.stringify(configured);
      if (q.anyOrphan.get(json) !== undefined) q.orphans.run(json);
    },
    async sent(row, a) {
      return sqlite.transaction(() => {
        q.attempt.run(row.id, a.startedAt, a.durationMs, 1, null, null, a.responseCode, a.response);
        return (
          (a.recipients === null
            ? q.sentNotEmail.run(a.at, a.response, row.id)
            : q.sent.run(a.at, a.response, a.recipients, row.id)
          ).changes > 0
        );
      })();
    },
    async retry(row, a) {
      return sqlite.transaction(() => {
        q.attempt.run(row.id, a.startedAt, a.durationMs, 0, 1, a.error, a.responseCode, null);
        return q.retry.run(a.nextAttemptAt, a.error, row.id).changes > 0;
      })();
    },
    async fail(row, a) {
      return sqlite.transaction(() => {
        q.attempt.run(row.id, a.startedAt, a.durationMs, 0, 0, a.error, a.responseCode, null);
        return q.fail.run(a.error, null, row.id).changes > 0;
      })();
    },
  };
}
