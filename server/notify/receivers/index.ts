import type { Incident } from '../../alerts/types.js';
import type { ReceiverConfig } from '../../config.js';
import { createAlertmanagerReceiver } from './alertmanager.js';
import { createPagerDutyReceiver } from './pagerduty.js';
import { createSlackReceiver } from './slack.js';
import { createTeamsReceiver } from './teams.js';
import type { Receiver, SendOptions } from './types.js';
import { createWebhookReceiver } from './webhook.js';

export type { DeliveryResult, Receiver } from './types.js';

/** Every configured receiver but email (which the outbox sends itself), by name. */
export function createReceivers(configs: ReceiverConfig[], options: SendOptions = {}): Map<string, Receiver> {
  const receivers = new Map<string, Receiver>();
  for (const c of configs) {
    const r =
      c.type === 'slack'
        ? createSlackReceiver(c, options)
        : c.type === 'teams'
          ? createTeamsReceiver(c, options)
          : c.type === 'pagerduty'
            ? createPagerDutyReceiver(c, options)
            : c.type === 'webhook'
              ? createWebhookReceiver(c, options)
              : c.type === 'alertmanager'
                ? createAlertmanagerReceiver(c, options)
                : null;
    if (r) receivers.set(c.name, r);
  }
  return receivers;
}

/** What a receiver takes when its route names no severities: what may end in quarantine, not the `low` noise. */
export const defaultSeverities: readonly string[] = ['critical', 'warning'];

/**
 * The routing: a receiver takes an incident unless its `severities` or `rules` leave it out. Pure. `low` and
 * `info` incidents (unrecognised clients knocking) reach only routes that name that severity or that rule.
 */
export function routes(
  route: Pick<ReceiverConfig, 'severities' | 'rules'> | undefined,
  incident: Pick<Incident, 'severity' | 'rule'>,
): boolean {
  if (
    !defaultSeverities.includes(incident.severity) &&
    !route?.severities?.includes(incident.severity as never) &&
    !route?.rules?.includes(incident.rule)
  )
    return false;
  if (!route) return true;
  if (route.severities && !(route.severities as readonly string[]).includes(incident.severity)) return false;
  if (route.rules && !(route.rules as readonly string[]).includes(incident.rule)) return false;
  return true;
}
