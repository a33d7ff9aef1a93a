import type { Incident, NotifyEvent } from '../../alerts/types.js';
import type { ReceiverConfig } from '../../config.js';
import type { EmailContext } from '../email.js';

/** What a send did (STYLE §7): delivered, or failed and whether retrying can help (and when, if the server said). */
export type DeliveryResult =
  | { ok: true; response: string; responseCode: number | null }
  | { ok: false; retryable: boolean; error: string; responseCode: number | null; retryAfterMs?: number };

/** One message as the outbox stores it: what is written before the send, secrets left out. */
export interface RenderedMessage {
  /** one line, shown in the dashboard */
  subject: string;
  /** the JSON body as sent, less its secrets */
  body: string;
}

export interface MessagePreview {
  payload: unknown;
  note?: string;
}

/** A stored row, handed back to its receiver to send. */
export interface OutgoingMessage {
  body: string;
  /** fixed per outbox row: sent as X-Scimtap-Delivery so a receiver can recognise a resend after a crash */
  deliveryId: string;
  event: NotifyEvent;
}

/**
 * A chat, paging or webhook receiver (server/notify/receivers/*.ts, one file each). It renders at queue time (the
 * message is stored before it is sent) and sends a stored message later, adding its secrets only then.
 */
export interface Receiver {
  readonly name: string;
  readonly type: Exclude<ReceiverConfig['type'], 'email'>;
  /** where it goes, safe to show: host and last 4 characters */
  readonly target: string;
  /** the events this receiver has something to say about (PagerDuty: acknowledged; Alertmanager: no reminders) */
  accepts(event: NotifyEvent): boolean;
  render(incident: Incident, event: NotifyEvent, ctx: EmailContext, now: number): RenderedMessage;
  renderTest(ctx: EmailContext, now: number, requestedBy: string | null): RenderedMessage;
  /**
   * A stored body as `send` posts it, for the dashboard's message viewer: a secret it adds shown masked, and a
   * note on what is added only when sent. Without it, the stored body is shown as it is (it holds no secret).
   */
  preview?(body: string): MessagePreview;
  send(message: OutgoingMessage): Promise<DeliveryResult>;
}

export interface SendOptions {
  timeoutMs?: number;
  clock?: () => number;
}
