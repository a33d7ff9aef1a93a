import { createHmac } from 'node:crypto';
import type { Incident, NotifyEvent } from '../../alerts/types.js';
import type { ReceiverConfig } from '../../config.js';
import type { EmailContext } from '../email.js';
import { clip, incidentFacts, testText, testTitle } from './content.js';
import { maskUrl, postJson, urlSecrets } from './http.js';
import type { Receiver, SendOptions } from './types.js';

type WebhookConfig = Extract<ReceiverConfig, { type: 'webhook' }>;

/** How Alertmanager writes "no end" in its webhooks (Go's zero time). */
export const zeroTime = '0001-01-01T00:00:00Z';

/** An alert as Alertmanager's API and webhook payloads carry it. */
export interface AmAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  /** null: set at send time (Alertmanager push: a few intervals ahead) */
  endsAt: string | null;
  generatorURL: string;
}

/** The labels identify the alert (Alertmanager fingerprints them): never put anything in them that changes. */
export function alertLabels(incident: Incident, appName: string): Record<string, string> {
  return { alertname: incident.rule, app: appName, severity: incident.severity, scope: incident.scope };
}

export function incidentAlert(incident: Incident, event: NotifyEvent, ctx: EmailContext): AmAlert {
  const f = incidentFacts(incident, event, ctx);
  return {
    labels: alertLabels(incident, f.app),
    annotations: {
      summary: f.summary,
      description: clip(`${f.whatFails}. ${f.entra}`, 2000),
      what_to_do: clip(f.actions.join('\n'), 4000),
      entra_reason: f.entraReason ?? '',
      firing_since: f.sinceIso,
      calls: String(f.calls),
      incident_id: String(f.incidentId),
      incident_url: f.incidentUrl,
    },
    startsAt: new Date(incident.firedAt ?? incident.startedAt).toISOString(),
    endsAt: event === 'resolved' ? new Date(incident.resolvedAt ?? incident.updatedAt).toISOString() : null,
    generatorURL: f.incidentUrl,
  };
}

export function testAlert(
  ctx: EmailContext,
  now: number,
  requestedBy: string | null,
  endsAt: string | null,
): AmAlert {
  return {
    labels: { alertname: 'scimtapTest', app: ctx.appName, severity: 'info', scope: 'test' },
    annotations: { summary: testTitle(ctx), description: testText(now, requestedBy) },
    startsAt: new Date(now).toISOString(),
    endsAt,
    generatorURL: `${ctx.baseUrl}/`,
  };
}

/**
 * Alertmanager's fingerprint of a label set (prometheus/common model.LabelsToSignature): FNV-1a 64 over the
 * sorted names and values, each followed by 0xff, as 16 hex digits. Receivers that dedupe on it agree with
 * Alertmanager's own.
 */
export function fingerprint(labels: Record<string, string>): string {
  let hash = 0xcbf29ce484222325n;
  const add = (bytes: Uint8Array) => {
    for (const b of bytes) {
      hash ^= BigInt(b);
      hash = (hash * 0x100000001b3n) & 0xffffffffffffffffn;
    }
  };
  const sep = new Uint8Array([0xff]);
  const enc = new TextEncoder();
  for (const name of Object.keys(labels).sort()) {
    add(enc.encode(name));
    add(sep);
    add(enc.encode(labels[name]));
    add(sep);
  }
  return hash.toString(16).padStart(16, '0');
}

const labelSet = (labels: Record<string, string>) =>
  `{${Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`)
    .join(', ')}}`;

/** Alertmanager's webhook payload, version 4 (prometheus.io/docs/alerting/latest/configuration/#webhook_config). */
export function webhookPayload(receiver: string, alert: AmAlert, externalURL: string) {
  const status = alert.endsAt === null ? 'firing' : 'resolved';
  const groupLabels = { alertname: alert.labels.alertname, app: alert.labels.app };
  return {
    version: '4',
    groupKey: `{}:${labelSet(groupLabels)}`,
    truncatedAlerts: 0,
    status,
    receiver,
    groupLabels,
    commonLabels: alert.labels,
    commonAnnotations: alert.annotations,
    externalURL,
    alerts: [
      {
        status,
        labels: alert.labels,
        annotations: alert.annotations,
        startsAt: alert.startsAt,
        endsAt: alert.endsAt ?? zeroTime,
        generatorURL: alert.generatorURL,
        fingerprint: fingerprint(alert.labels),
      },
    ],
  };
}

/**
 * The signature a receiver checks: HMAC-SHA256 over `<timestamp>.<raw body>` with the shared secret, in hex.
 * The timestamp (unix seconds, X-Scimtap-Timestamp) is signed too, so a captured request cannot be replayed
 * later: reject one older than 5 minutes.
 */
export function signWebhook(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

const accepted = new Set<NotifyEvent>(['first', 'reasonChanged', 'reminder', 'resolved', 'test']);

/** A generic webhook (SCIMTAP_WEBHOOK_URL) in Alertmanager's payload format, optionally signed (SCIMTAP_WEBHOOK_SECRET). */
export function createWebhookReceiver(
  config: WebhookConfig,
  { timeoutMs, clock = Date.now }: SendOptions = {},
): Receiver {
  const secrets = [...urlSecrets(config.url), ...(config.secret ? [config.secret] : [])];
  return {
    name: config.name,
    type: 'webhook',
    target: maskUrl(config.url),
    accepts: (event) => accepted.has(event),
    render(incident, event, ctx) {
      const alert = incidentAlert(incident, event, ctx);
      return {
        subject: incidentFacts(incident, event, ctx).title,
        body: JSON.stringify(webhookPayload(config.name, alert, `${ctx.baseUrl}/`)),
      };
    },
    renderTest(ctx, now, requestedBy) {
      const alert = testAlert(ctx, now, requestedBy, null);
      return {
        subject: testTitle(ctx),
        body: JSON.stringify(webhookPayload(config.name, alert, `${ctx.baseUrl}/`)),
      };
    },
    preview: (body) => ({
      payload: JSON.parse(body),
      ...(config.secret
        ? {
            note: 'Signed when sent: X-Scimtap-Timestamp, and X-Scimtap-Signature (HMAC-SHA256 of "<timestamp>.<body>").',
          }
        : {}),
    }),
    send(m) {
      const headers: Record<string, string> = { 'x-scimtap-delivery': m.deliveryId };
      if (config.secret) {
        const timestamp = Math.floor(clock() / 1000);
        headers['x-scimtap-timestamp'] = String(timestamp);
        headers['x-scimtap-signature'] = signWebhook(config.secret, timestamp, m.body);
      }
      return postJson(config.url, m.body, { secrets, timeoutMs, headers });
    },
  };
}
