import type { Logger } from 'pino';
import type { NotifyEvent } from '../alerts/types.js';
import type { Db } from '../store/db.js';
import { type DueRow, outboxQueries } from '../store/queries/outbox.js';
import type { AlertmanagerReceiver } from './receivers/alertmanager.js';
import type { DeliveryResult, Receiver } from './receivers/index.js';
import type { Sender } from './sender.js';

/** Exponential backoff: base, 2×base, 4×base ... capped. */
export function backoffMs(attempts: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, attempts - 1));
}

export interface OutboxOptions {
  db: Db;
  clock: () => number;
  /** null: no SMTP configured, emails stay `unsent` and visible */
  sender: Sender | null;
  /** the other receivers, by name (server/notify/receivers/) */
  receivers?: ReadonlyMap<string, Receiver>;
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
  /** SMTP is configured */
  readonly configured: boolean;
  /** wait for the run in progress, then stop taking new ones */
  close(): Promise<void>;
}

/**
 * Delivery from the outbox (ARCHITECTURE §6): written before sending, marked `sending` before the SMTP
 * conversation or HTTP request, then `sent`, retried with backoff while the error is retryable (never sooner than
 * the server's Retry-After), `failed` when it is permanent. Every attempt lands in `delivery_attempts`. Each
 * receiver has its own queue, run side by side (a slow webhook does not hold the email back), and sends one
 * incident's messages in order (a PagerDuty resolve never overtakes its trigger).
 */
export function createOutbox({
  db,
  clock,
  sender,
  receivers = new Map(),
  from,
  recipients,
  logger,
  retryBaseMs = 30_000,
  retryMaxMs = 15 * 60_000,
  sendingTimeoutMs = 5 * 60_000,
}: OutboxOptions): Outbox {
  const q = outboxQueries(db);
  let running: Promise<DeliveryReport> | null = null;
  let again = false;
  let closed = false;
  const queues = () => [...(sender ? ['email'] : []), ...receivers.keys()];
  const sendRow = createRowSender(q, sender, receivers, from);
  const write = createAttemptWriter(db, q, retryBaseMs, retryMaxMs);
  const alertmanager = createAlertmanagerResends(q, clock, logger);

  /** One receiver's due rows, oldest first, until none is left to do. */
  async function runQueue(name: string, report: DeliveryReport): Promise<void> {
    let handled: number;
    do {
      handled = 0;
      const rows = q.due.all(name, clock()) as DueRow[];
      for (const row of rows) {
        if (closed) return;
        // A reminder still waiting when a newer message about the same incident exists says nothing new.
        if (
          row.event === 'reminder' &&
          row.incidentId !== null &&
          q.newer.get(row.incidentId, name, row.id)
        ) {
          q.supersede.run(row.id);
          report.superseded++;
          handled++;
          continue;
        }
        const to = name !== 'email' ? [] : row.recipients ? row.recipients.split(',') : recipients;
        if (name === 'email' && to.length === 0) {
          // Nobody to send to: say so on the row, once, and leave it waiting (visible) for a configured restart.
          q.noRecipients.run(row.id);
          continue;
        }
        const startedAt = clock();
        if (q.claim.run(startedAt, startedAt + sendingTimeoutMs, row.id).changes === 0) continue;
        handled++;
        const t0 = performance.now();
        const result = await sendRow(row, to);
        const durationMs = Math.round(performance.now() - t0);
        const at = clock();
        const log = { outboxId: row.id, receiver: name, event: row.event, incidentId: row.incidentId };
        if (result.ok) {
          write.sent(row, to, startedAt, durationMs, at, result);
          if (receivers.get(name)?.type === 'alertmanager') alertmanager.heard(name, at);
          report.sent++;
          logger?.info(log, name === 'email' ? 'notify: email sent' : 'notify: message delivered');
        } else {
          const attempts = row.attempts + 1;
          write.notSent(row, attempts, startedAt, durationMs, at, result);
          if (result.retryable) report.retrying++;
          else report.failed++;
          logger?.warn(
            { ...log, attempts, retryable: result.retryable, error: result.error },
            result.retryable ? 'notify: not delivered, will retry' : 'notify: rejected permanently',
          );
        }
      }
    } while (handled > 0 && !closed);
  }

  async function run(): Promise<DeliveryReport> {
    const report: DeliveryReport = { sent: 0, retrying: 0, failed: 0, superseded: 0 };
    // A receiver removed from the config leaves its rows waiting: say why on them, once, instead of failing them
    // (putting it back delivers them).
    q.orphans.run(JSON.stringify([...receivers.keys()]));
    do {
      again = false;
      await Promise.all(queues().map((name) => runQueue(name, report)));
      if (closed) break;
      await Promise.all(
        [...receivers].map(([name, r]) =>
          r.type === 'alertmanager' ? alertmanager.pushFiring(name, r as AlertmanagerReceiver) : undefined,
        ),
      );
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
      if (closed || queues().length === 0) return;
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

function retryAfter(result: DeliveryResult): number {
  return !result.ok && result.retryAfterMs !== undefined ? result.retryAfterMs : 0;
}

type OutboxQueries = ReturnType<typeof outboxQueries>;

/**
 * Sends one due row: an email through the SMTP sender (a reply in its incident's thread), any other message
 * through its receiver.
 */
function createRowSender(
  q: OutboxQueries,
  sender: Sender | null,
  receivers: ReadonlyMap<string, Receiver>,
  from: string,
): (row: DueRow, to: string[]) => Promise<DeliveryResult> {
  return async function sendRow(row, to) {
    if (row.receiver === 'email') {
      return sender!.send({
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
    }
    const receiver = receivers.get(row.receiver)!;
    try {
      return await receiver.send({
        body: row.text,
        deliveryId: row.messageId,
        event: row.event as NotifyEvent,
      });
    } catch (err) {
      // A stored body this version cannot read: permanent, retrying cannot fix it.
      return {
        ok: false,
        retryable: false,
        error: `cannot send: ${(err as Error).message}`,
        responseCode: null,
      };
    }
  };
}

/** Writes how a send went: the attempt, and the row's new state, in one transaction. */
function createAttemptWriter(db: Db, q: OutboxQueries, retryBaseMs: number, retryMaxMs: number) {
  const sqlite = db.$client;
  return {
    /** `to`: the email's recipients as sent */
    sent(
      row: DueRow,
      to: string[],
      startedAt: number,
      durationMs: number,
      at: number,
      result: Extract<DeliveryResult, { ok: true }>,
    ): void {
      sqlite.transaction(() => {
        q.attempt.run(row.id, startedAt, durationMs, 1, null, null, result.responseCode, result.response);
        if (row.receiver === 'email') q.sent.run(at, result.response, to.join(','), row.id);
        else q.sentNotEmail.run(at, result.response, row.id);
      })();
    },
    /** retried with backoff while retryable (never sooner than the server's Retry-After), else failed */
    notSent(
      row: DueRow,
      attempts: number,
      startedAt: number,
      durationMs: number,
      at: number,
      result: Extract<DeliveryResult, { ok: false }>,
    ): void {
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
        if (result.retryable) {
          const wait = Math.max(backoffMs(attempts, retryBaseMs, retryMaxMs), retryAfter(result));
          q.retry.run(at + wait, result.error, row.id);
        } else q.fail.run(result.error, null, row.id);
      })();
    },
  };
}

/** Alertmanager forgets an alert whose endsAt passes: push the firing ones again every `resendMs`. */
function createAlertmanagerResends(q: OutboxQueries, clock: () => number, logger: OutboxOptions['logger']) {
  // When each Alertmanager last heard about the firing incidents (a restart pushes them again at once).
  const lastPush = new Map<string, number>();
  return {
    /** a message was delivered to `name` at `at` */
    heard(name: string, at: number): void {
      lastPush.set(name, at);
    },
    async pushFiring(name: string, receiver: AlertmanagerReceiver): Promise<void> {
      const now = clock();
      if (now - (lastPush.get(name) ?? Number.NEGATIVE_INFINITY) < receiver.resendMs) return;
      const bodies = q.stillFiring.all(name) as string[];
      if (bodies.length === 0) return;
      lastPush.set(name, now);
      const result = await receiver.resend(bodies);
      if (!result.ok) {
        logger?.warn(
          { receiver: name, alerts: bodies.length, error: result.error },
          'notify: alertmanager resend failed',
        );
      }
    },
  };
}
