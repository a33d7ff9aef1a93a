import type { Incident, NotifyEvent } from '../../alerts/types.js';
import type { ReceiverConfig } from '../../config.js';
import { clip, incidentFacts, testText, testTitle } from './content.js';
import { maskKey, maskUrl, postJson, urlSecrets } from './http.js';
import type { Receiver, SendOptions } from './types.js';

type PagerDutyConfig = Extract<ReceiverConfig, { type: 'pagerduty' }>;

/** Events API v2 actions (developer.pagerduty.com/docs/events-api-v2/overview). */
const actionFor: Partial<Record<NotifyEvent, 'trigger' | 'acknowledge' | 'resolve'>> = {
  first: 'trigger',
  // a trigger with the same dedup_key updates the open alert (its summary and details) instead of paging again
  reasonChanged: 'trigger',
  acknowledged: 'acknowledge',
  resolved: 'resolve',
  test: 'trigger',
};

/**
 * One PagerDuty alert per scimtap incident: the incident's key, plus its id so that an incident that opens again
 * after a resolve (same rule, same scope) is a new alert even while the old resolve is still queued.
 */
export function dedupKey(incident: Pick<Incident, 'key' | 'id'>): string {
  return `scimtap:${incident.key}#${incident.id}`;
}

const severityFor = (s: string) => (s === 'critical' ? 'critical' : s === 'warning' ? 'warning' : 'info');

/**
 * PagerDuty Events API v2 (SCIMTAP_PAGERDUTY_ROUTING_KEY): trigger when an incident fires, acknowledge when someone
 * acknowledges it in scimtap, resolve when it resolves; reminders are PagerDuty's own escalation. The routing key
 * is added at send time: the stored body never holds it.
 */
export function createPagerDutyReceiver(config: PagerDutyConfig, { timeoutMs }: SendOptions = {}): Receiver {
  const secrets = [config.routingKey, ...urlSecrets(config.url)];
  return {
    name: config.name,
    type: 'pagerduty',
    target: `${maskUrl(config.url).split(' ')[0]} key ${maskKey(config.routingKey)}`,
    accepts: (event) => actionFor[event] !== undefined,
    render(incident, event, ctx, now) {
      const f = incidentFacts(incident, event, ctx);
      const action = actionFor[event];
      if (!action) throw new Error(`pagerduty: nothing to send for ${event}`);
      const body =
        action === 'trigger'
          ? {
              event_action: action,
              dedup_key: dedupKey(incident),
              payload: {
                summary: clip(f.title, 1024),
                source: clip(f.app, 255),
                severity: severityFor(f.severity),
                timestamp: new Date(now).toISOString(),
                component: 'scim-provisioning',
                group: f.rule,
                ...(f.entraReason ? { class: f.entraReason } : {}),
                custom_details: {
                  app: f.app,
                  rule: f.rule,
                  scope: incident.scope,
                  what_fails: f.whatFails,
                  firing_since: f.sinceIso,
                  calls: f.calls,
                  entra_reason: f.entraReason,
                  entra: f.entra,
                  what_to_do: f.actions,
                  incident: f.incidentUrl,
                },
              },
              client: 'scimtap',
              client_url: f.incidentUrl,
              links: [{ href: f.incidentUrl, text: `scimtap incident #${f.incidentId}` }],
            }
          : { event_action: action, dedup_key: dedupKey(incident) };
      return { subject: `${action}: ${f.title}`, body: JSON.stringify(body) };
    },
    renderTest(ctx, now, requestedBy) {
      const title = testTitle(ctx);
      const body = {
        event_action: 'trigger',
        dedup_key: `scimtap:test#${now}`,
        payload: {
          summary: clip(title, 1024),
          source: clip(ctx.appName, 255),
          severity: 'info',
          timestamp: new Date(now).toISOString(),
          component: 'scim-provisioning',
          group: 'test',
          custom_details: { message: testText(now, requestedBy) },
        },
        client: 'scimtap',
        client_url: `${ctx.baseUrl}/`,
      };
      return { subject: `trigger: ${title}`, body: JSON.stringify(body) };
    },
    preview: (body) => ({
      payload: { routing_key: maskKey(config.routingKey), ...(JSON.parse(body) as object) },
      note: 'routing_key is the integration key, a secret: shown masked here, sent whole.',
    }),
    send(m) {
      const body = JSON.stringify({ routing_key: config.routingKey, ...(JSON.parse(m.body) as object) });
      return postJson(config.url, body, {
        secrets,
        timeoutMs,
        headers: { 'x-scimtap-delivery': m.deliveryId },
      });
    },
  };
}
