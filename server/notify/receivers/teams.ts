import type { NotifyEvent } from '../../alerts/types.js';
import type { ReceiverConfig } from '../../config.js';
import { clip, incidentFacts, testText, testTitle } from './content.js';
import { maskUrl, postJson, urlSecrets } from './http.js';
import type { Receiver, SendOptions } from './types.js';

type TeamsConfig = Extract<ReceiverConfig, { type: 'teams' }>;

/** Adaptive Card text is markdown: a captured value must not become a link or bold text (backslash escapes). */
export function teamsEscape(s: string): string {
  return s.replace(/[\\`*_~[\]]/g, (c) => `\\${c}`);
}

const text = (value: string, extra: Record<string, unknown> = {}) => ({
  type: 'TextBlock',
  text: clip(value, 2000),
  wrap: true,
  ...extra,
});

/** The envelope Teams workflows ("Post to a channel when a webhook request is received") and incoming webhooks take. */
export function adaptiveCardMessage(body: unknown[], actions: unknown[]) {
  return {
    type: 'message',
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        contentUrl: null,
        content: {
          $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
          type: 'AdaptiveCard',
          version: '1.4',
          msteams: { width: 'Full' },
          body,
          actions,
        },
      },
    ],
  };
}

const accepted = new Set<NotifyEvent>(['first', 'reasonChanged', 'reminder', 'resolved', 'test']);

/** A Microsoft Teams workflow or incoming webhook (SCIMTAP_TEAMS_WEBHOOK_URL): one Adaptive Card 1.4 per event. */
export function createTeamsReceiver(config: TeamsConfig, { timeoutMs }: SendOptions = {}): Receiver {
  const secrets = urlSecrets(config.url);
  return {
    name: config.name,
    type: 'teams',
    target: maskUrl(config.url),
    accepts: (event) => accepted.has(event),
    render(incident, event, ctx) {
      const f = incidentFacts(incident, event, ctx);
      const body: unknown[] = [
        text(teamsEscape(f.title), {
          size: 'Medium',
          weight: 'Bolder',
          style: 'heading',
          color: f.state === 'resolved' ? 'Good' : f.severity === 'critical' ? 'Attention' : 'Warning',
        }),
        {
          type: 'FactSet',
          facts: [
            { title: 'Severity', value: teamsEscape(f.severity) },
            { title: 'App', value: teamsEscape(f.app) },
            {
              title: f.state === 'resolved' ? 'Was firing since' : 'Firing since',
              value: teamsEscape(f.since),
            },
            { title: 'Calls', value: f.calls.toLocaleString('en-US') },
            { title: 'Resembles (Entra)', value: teamsEscape(f.entraReason ?? '—') },
            { title: 'Rule', value: teamsEscape(f.rule) },
            ...(f.acknowledgedBy ? [{ title: 'Acknowledged by', value: teamsEscape(f.acknowledgedBy) }] : []),
          ],
        },
        text('What fails', { weight: 'Bolder', spacing: 'Medium' }),
        text(`${teamsEscape(f.whatFails)}. ${teamsEscape(f.entra)}`),
      ];
      if (f.state !== 'resolved' && f.actions.length > 0) {
        body.push(text('What to do', { weight: 'Bolder', spacing: 'Medium' }));
        body.push(...f.actions.map((a) => text(`• ${teamsEscape(a)}`, { spacing: 'Small' })));
      }
      const actions = [
        { type: 'Action.OpenUrl', title: `Open incident #${f.incidentId}`, url: f.incidentUrl },
      ];
      return { subject: f.title, body: JSON.stringify(adaptiveCardMessage(body, actions)) };
    },
    renderTest(ctx, now, requestedBy) {
      const title = testTitle(ctx);
      const body = [
        text(teamsEscape(title), { size: 'Medium', weight: 'Bolder', style: 'heading' }),
        text(teamsEscape(testText(now, requestedBy))),
      ];
      const actions = [{ type: 'Action.OpenUrl', title: 'Open the dashboard', url: `${ctx.baseUrl}/` }];
      return { subject: title, body: JSON.stringify(adaptiveCardMessage(body, actions)) };
    },
    send: (m) =>
      postJson(config.url, m.body, { secrets, timeoutMs, headers: { 'x-scimtap-delivery': m.deliveryId } }),
  };
}
