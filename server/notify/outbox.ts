import type { Logger } from 'pino';
import type { NotifyEvent } from '../alerts/types.js';
import type { ClaimRequest, DueRow, OutboxStore } from './outbox-store.js';
import type { AlertmanagerReceiver } from './receivers/alertmanager.js';
import type { DeliveryResult, Receiver } from './receivers/index.js';
import type { Sender } from './sender.js';

/** Exponential backoff: base, 2×base, 4×base ... capped. */
export function backoffMs(attempts: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, attempts - 1));
}

export interface OutboxOptions {
  /** the outbox table: store/queries/outbox.ts `sqliteOutboxStore`, store/pg/outbox.ts `pgOutboxStore` */
  store: OutboxStore;
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
  store,
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
  let running: Promise<DeliveryReport> | null = null;
  let again = false;
  let closed = false;
  const queues = () => [...(sender ? ['email'] : []), ...receivers.keys()];
  const fallbackRecipients = recipients.length > 0;
  const alertmanager = createAlertmanagerResends(store, clock, logger);
  const deliver = createRowDelivery({
    store,
    clock,
    sendRow: createRowSender(store, sender, receivers, from),
    recipients,
    logger,
    retryBaseMs,
    retryMaxMs,
    delivered(name, at) {
      if (receivers.get(name)?.type === 'alertmanager') alertmanager.heard(name, at);
    },
  });

  async function run(): Promise<DeliveryReport> {
    const report: DeliveryReport = { sent: 0, retrying: 0, failed: 0, superseded: 0 };
    // A receiver removed from the config leaves its rows waiting: say why on them, once, instead of failing them
    // (putting it back delivers them).
    await store.orphans([...receivers.keys()]);
    do {
      again = false;
      await Promise.all(
        queues().map((name) =>
          runQueue(store, { receiver: name, clock, sendingTimeoutMs, fallbackRecipients }, () => closed, {
            deliver: (row, startedAt) => deliver(name, row, startedAt, report),
            superseded: () => report.superseded++,
          }),
        ),
      );
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

/** One receiver's due rows, oldest first, until none is left to do. */
async function runQueue(
  store: OutboxStore,
  request: ClaimRequest,
  closed: () => boolean,
  on: { deliver(row: DueRow, startedAt: number): Promise<void>; superseded(): void },
): Promise<void> {
  let handled: number;
  do {
    handled = 0;
    if (closed()) return;
    // Checked after each row, before the next is claimed: closing leaves no row claimed and unsent.
    for await (const step of store.claimDue(request)) {
      handled++;
      if (step.kind === 'superseded') on.superseded();
      else await on.deliver(step.row, step.startedAt);
      if (closed()) return;
    }
  } while (handled > 0 && !closed());
}

/**
 * Sends one claimed row and records how it went: `sent`, or retried with backoff while the error is retryable
 * (never sooner than the server's Retry-After), else `failed`.
 */
function createRowDelivery(o: {
  store: OutboxStore;
  clock: () => number;
  sendRow: (row: DueRow, to: string[]) => Promise<DeliveryResult>;
  recipients: string[];
  logger: OutboxOptions['logger'];
  retryBaseMs: number;
  retryMaxMs: number;
  /** `name` took a message at `at` */
  delivered(name: string, at: number): void;
}) {
  const { store, clock, logger } = o;
  return async function deliver(
    name: string,
    row: DueRow,
    startedAt: number,
    report: DeliveryReport,
  ): Promise<void> {
    const to = name !== 'email' ? [] : row.recipients ? row.recipients.split(',') : o.recipients;
    const t0 = performance.now();
    const result = await o.sendRow(row, to);
    const durationMs = Math.round(performance.now() - t0);
    const at = clock();
    const log = { outboxId: row.id, receiver: name, event: row.event, incidentId: row.incidentId };
    const attempt = { startedAt, durationMs, responseCode: result.responseCode };
    let ours: boolean;
    if (result.ok) {
      const recipientsSent = row.receiver === 'email' ? to.join(',') : null;
      ours = await store.sent(row, { ...attempt, at, response: result.response, recipients: recipientsSent });
      o.delivered(name, at);
      report.sent++;
      logger?.info(log, name === 'email' ? 'notify: email sent' : 'notify: message delivered');
    } else {
      const attempts = row.attempts + 1;
      if (result.retryable) {
        const wait = Math.max(backoffMs(attempts, o.retryBaseMs, o.retryMaxMs), retryAfter(result));
        ours = await store.retry(row, { ...attempt, error: result.error, nextAttemptAt: at + wait });
        report.retrying++;
      } else {
        ours = await store.fail(row, { ...attempt, error: result.error });
        report.failed++;
      }
      logger?.warn(
        { ...log, attempts, retryable: result.retryable, error: result.error },
        result.retryable ? 'notify: not delivered, will retry' : 'notify: rejected permanently',
      );
    }
    // PostgreSQL: the send outlasted the claim and another replica took the row over; it decides the row's fate.
    if (!ours)
      logger?.warn(log, 'notify: claim timed out during the send, the row was left to its new sender');
  };
}

function retryAfter(result: DeliveryResult): number {
  return !result.ok && result.retryAfterMs !== undefined ? result.retryAfterMs : 0;
}

/**
 * Sends one due row: an email through the SMTP sender (a reply in its incident's thread), any other message
 * through its receiver.
 */
function createRowSender(
  store: OutboxStore,
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
          row.incidentId === null ? undefined : ((await store.thread(row.incidentId, row.id)) ?? undefined),
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

/** Alertmanager forgets an alert whose endsAt passes: push the firing ones again every `resendMs`. */
function createAlertmanagerResends(store: OutboxStore, clock: () => number, logger: OutboxOptions['logger']) {
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
      const bodies = await store.stillFiring(name);
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
