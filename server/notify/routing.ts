import type { EvaluationStore } from '../alerts/ports.js';
import type { Incident, NotifyEvent } from '../alerts/types.js';
import type { Config, ReceiverConfig } from '../config.js';
import { type EmailContext, renderIncidentEmail, renderTestEmail } from './email.js';
import { type Receiver, routes } from './receivers/index.js';

/** A receiver as the API shows it: never its URL or key, only where it goes, masked. */
export interface ReceiverView {
  name: string;
  type: ReceiverConfig['type'];
  target: string;
  severities: string[] | null;
  rules: string[] | null;
}

export class UnknownReceiverError extends Error {}

/** What queueing writes to and reads: the store of the transaction (or workspace) the decision is made in. */
type OutboxPort = Pick<EvaluationStore, 'queueEmail' | 'queueMessage' | 'receiverWasTold'>;

export interface Routing {
  /** queue one decision for every receiver it routes to (inside the engine's transaction); true if any row was new */
  queueIncident(
    store: OutboxPort,
    incident: Incident,
    event: Exclude<NotifyEvent, 'test'>,
    sequence: number,
    ctx: EmailContext,
    now: number,
  ): boolean;
  /** someone acknowledged in scimtap: tell the receivers that track acknowledgements and were told it fired */
  queueAcknowledged(
    store: OutboxPort,
    incident: Incident,
    sequence: number,
    ctx: EmailContext,
    now: number,
  ): boolean;
  /** a test to one receiver (`email` by default); returns the outbox row id */
  queueTest(
    store: OutboxPort,
    name: string | null,
    ctx: EmailContext,
    now: number,
    requestedBy: string | null,
  ): number;
  receivers(): ReceiverView[];
  /** a stored chat, paging or webhook body as it is (or was) sent, pretty JSON, secrets masked */
  preview(name: string, body: string): JsonMessagePreview;
}

export interface JsonMessagePreview {
  /** null: no receiver of that name is configured now */
  type: Exclude<ReceiverConfig['type'], 'email'> | null;
  payload: string;
  note: string | null;
}

/**
 * Which receivers hear about what (the `receivers` list in the JSON config): each optionally limited to some
 * severities and rules. Email, always present, keeps its behaviour unless a `type: "email"` entry routes it.
 */
export function createRouting(
  config: Pick<Config, 'receivers' | 'notifyTo' | 'mailFrom'>,
  receivers: ReadonlyMap<string, Receiver>,
): Routing {
  const routeOf = new Map(config.receivers.map((r) => [r.name, r]));
  const email = (
    store: OutboxPort,
    incident: Incident | null,
    event: NotifyEvent,
    sequence: number,
    ctx: EmailContext,
    now: number,
    requestedBy: string | null = null,
  ) =>
    store.queueEmail({
      incidentId: incident?.id ?? null,
      event,
      sequence,
      reasonKey: incident?.reasonKey ?? null,
      recipients: config.notifyTo,
      from: config.mailFrom,
      now,
      ...(incident ? renderIncidentEmail(incident, event, ctx, now) : renderTestEmail(ctx, now, requestedBy)),
    });

  return {
    queueIncident(store, incident, event, sequence, ctx, now) {
      let queued = false;
      if (event !== 'acknowledged' && routes(routeOf.get('email'), incident)) {
        queued = email(store, incident, event, sequence, ctx, now) !== null || queued;
      }
      for (const [name, receiver] of receivers) {
        if (!receiver.accepts(event) || !routes(routeOf.get(name), incident)) continue;
        const message = receiver.render(incident, event, ctx, now);
        const id = queueToReceiver(store, name, receiver, { incident, event, sequence, message, now });
        queued = id !== null || queued;
      }
      return queued;
    },
    queueAcknowledged(store, incident, sequence, ctx, now) {
      let queued = false;
      for (const [name, receiver] of receivers) {
        if (!receiver.accepts('acknowledged') || !store.receiverWasTold(name, incident.id)) continue;
        const message = receiver.render(incident, 'acknowledged', ctx, now);
        const event = 'acknowledged';
        const id = queueToReceiver(store, name, receiver, { incident, event, sequence, message, now });
        queued = id !== null || queued;
      }
      return queued;
    },
    queueTest(store, name, ctx, now, requestedBy) {
      const target = name ?? 'email';
      // Two tests in the same millisecond are two tests: the sequence (a time) moves on.
      for (let sequence = now; ; sequence++) {
        let id: number | null;
        if (target === 'email') id = email(store, null, 'test', sequence, ctx, now, requestedBy);
        else {
          const receiver = receivers.get(target);
          if (!receiver) throw new UnknownReceiverError(`no receiver "${target}"`);
          const message = receiver.renderTest(ctx, now, requestedBy);
          id = queueToReceiver(store, target, receiver, {
            incident: null,
            event: 'test',
            sequence,
            message,
            now,
          });
        }
        if (id !== null) return id;
      }
    },
    preview: (name, body) => previewMessage(receivers.get(name), body),
    receivers: () => receiverViews(config.notifyTo, routeOf, receivers),
  };
}

/** One chat, paging or webhook message into the outbox; null when that row was already queued. */
function queueToReceiver(
  store: OutboxPort,
  name: string,
  receiver: Receiver,
  m: {
    incident: Incident | null;
    event: NotifyEvent;
    sequence: number;
    message: { subject: string; body: string };
    now: number;
  },
): number | null {
  return store.queueMessage({
    receiver: name,
    target: receiver.target,
    incidentId: m.incident?.id ?? null,
    event: m.event,
    sequence: m.sequence,
    reasonKey: m.incident?.reasonKey ?? null,
    subject: m.message.subject,
    body: m.message.body,
    now: m.now,
  });
}

function previewMessage(receiver: Receiver | undefined, body: string): JsonMessagePreview {
  const type = receiver?.type ?? null;
  try {
    const shown = receiver?.preview ? receiver.preview(body) : { payload: JSON.parse(body) as unknown };
    return { type, payload: JSON.stringify(shown.payload, null, 2), note: shown.note ?? null };
  } catch {
    // Written by another version, or not JSON: shown as stored (stored bodies never hold a secret).
    return { type, payload: body, note: 'shown as stored: not JSON this version reads' };
  }
}

function receiverViews(
  notifyTo: string[],
  routeOf: ReadonlyMap<string, ReceiverConfig>,
  receivers: ReadonlyMap<string, Receiver>,
): ReceiverView[] {
  const emailRoute = routeOf.get('email');
  return [
    {
      name: 'email',
      type: 'email' as const,
      target: notifyTo.join(', '),
      severities: emailRoute?.severities ?? null,
      rules: emailRoute?.rules ?? null,
    },
    ...[...receivers].map(([name, r]) => ({
      name,
      type: r.type,
      target: r.target,
      severities: routeOf.get(name)?.severities ?? null,
      rules: routeOf.get(name)?.rules ?? null,
    })),
  ];
}
