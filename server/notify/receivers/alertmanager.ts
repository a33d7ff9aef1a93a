import type { NotifyEvent } from '../../alerts/types.js';
import type { ReceiverConfig } from '../../config.js';
import { incidentFacts, testTitle } from './content.js';
import { maskUrl, postJson, urlSecrets } from './http.js';
import type { DeliveryResult, Receiver, SendOptions } from './types.js';
import { type AmAlert, incidentAlert, testAlert } from './webhook.js';

type AlertmanagerConfig = Extract<ReceiverConfig, { type: 'alertmanager' }>;

// Reminders are Alertmanager's job (repeat_interval); it hears about a firing incident on every resend instead.
const accepted = new Set<NotifyEvent>(['first', 'reasonChanged', 'resolved', 'test']);

/** `http://am:9093` or `http://am:9093/api/v2/alerts`: both mean the v2 alerts endpoint. */
export function alertsEndpoint(url: string): string {
  const base = url.replace(/\/+$/, '');
  return base.endsWith('/api/v2/alerts') ? base : `${base}/api/v2/alerts`;
}

export interface AlertmanagerReceiver extends Receiver {
  /** a firing incident is pushed again this often */
  readonly resendMs: number;
  /** push these stored (firing) alerts again, each with endsAt moved ahead */
  resend(bodies: string[]): Promise<DeliveryResult>;
}

/**
 * A Prometheus Alertmanager (SCIMTAP_ALERTMANAGER_URL), as Prometheus itself talks to it: a firing alert is
 * pushed when it fires and again every `resendSeconds`, each time with endsAt four intervals ahead, so that
 * Alertmanager resolves it by itself if scimtap goes away; a resolved one is pushed once with its end time.
 */
export function createAlertmanagerReceiver(
  config: AlertmanagerConfig,
  { timeoutMs, clock = Date.now }: SendOptions = {},
): AlertmanagerReceiver {
  const secrets = urlSecrets(config.url);
  const endpoint = alertsEndpoint(config.url);
  const resendMs = config.resendSeconds * 1000;
  const push = (alerts: AmAlert[], deliveryId?: string) => {
    const endsAt = new Date(clock() + 4 * resendMs).toISOString();
    const body = JSON.stringify(alerts.map((a) => ({ ...a, endsAt: a.endsAt ?? endsAt })));
    return postJson(endpoint, body, {
      secrets,
      timeoutMs,
      headers: deliveryId ? { 'x-scimtap-delivery': deliveryId } : {},
    });
  };
  return {
    name: config.name,
    type: 'alertmanager',
    target: maskUrl(config.url),
    resendMs,
    accepts: (event) => accepted.has(event),
    render(incident, event, ctx) {
      return {
        subject: incidentFacts(incident, event, ctx).title,
        body: JSON.stringify([incidentAlert(incident, event, ctx)]),
      };
    },
    renderTest(ctx, now, requestedBy) {
      // A test alert ends by itself 5 minutes after it was queued.
      const alert = testAlert(ctx, now, requestedBy, new Date(now + 5 * 60_000).toISOString());
      return { subject: testTitle(ctx), body: JSON.stringify([alert]) };
    },
    preview: (body) => ({
      payload: JSON.parse(body),
      note: `An endsAt of null is set when sent: ${4 * config.resendSeconds} s ahead, moved on at each resend (every ${config.resendSeconds} s while it fires).`,
    }),
    send: (m) => push(JSON.parse(m.body) as AmAlert[], m.deliveryId),
    resend: (bodies) => push(bodies.flatMap((b) => JSON.parse(b) as AmAlert[])),
  };
}
