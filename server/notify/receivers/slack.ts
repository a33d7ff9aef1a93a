import type { NotifyEvent } from '../../alerts/types.js';
import type { ReceiverConfig } from '../../config.js';
import { clip, incidentFacts, testText, testTitle } from './content.js';
import { maskUrl, postJson, urlSecrets } from './http.js';
import type { Receiver, SendOptions } from './types.js';

type SlackConfig = Extract<ReceiverConfig, { type: 'slack' }>;

// Slack's limits (api.slack.com/reference/block-kit/blocks): 50 blocks, 3,000 characters per section text,
// 150 per header, 10 fields of 2,000, 75 per button label, 3,000 per URL.
export const slackLimits = {
  blocks: 50,
  section: 3000,
  header: 150,
  field: 2000,
  fields: 10,
  button: 75,
  url: 3000,
};

/** Slack's mrkdwn treats &, < and > as control characters: `<!channel>` or `<http://x|y>` in a value must stay text. */
export function slackEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

const mrkdwn = (text: string, max = slackLimits.section) => ({ type: 'mrkdwn', text: clip(text, max) });
const section = (text: string) => ({ type: 'section', text: mrkdwn(text) });
const icon: Record<string, string> = {
  firing: ':red_circle:',
  resolved: ':large_green_circle:',
  test: ':test_tube:',
};

const accepted = new Set<NotifyEvent>(['first', 'reasonChanged', 'reminder', 'resolved', 'test']);

/** A Slack incoming webhook (SCIMTAP_SLACK_WEBHOOK_URL): one Block Kit message per event. */
export function createSlackReceiver(config: SlackConfig, { timeoutMs }: SendOptions = {}): Receiver {
  const secrets = urlSecrets(config.url);
  return {
    name: config.name,
    type: 'slack',
    target: maskUrl(config.url),
    accepts: (event) => accepted.has(event),
    render(incident, event, ctx) {
      const f = incidentFacts(incident, event, ctx);
      const field = (label: string, value: string) =>
        mrkdwn(`*${label}*\n${slackEscape(value)}`, slackLimits.field);
      const blocks: unknown[] = [
        {
          type: 'header',
          text: {
            type: 'plain_text',
            text: clip(`${f.state === 'resolved' ? 'Resolved' : 'Firing'}: ${f.summary}`, slackLimits.header),
            emoji: false,
          },
        },
        section(`${icon[f.state] ?? ''} *${slackEscape(f.title)}*`),
        {
          type: 'section',
          fields: [
            field('Severity', f.severity),
            field('App', f.app),
            field(f.state === 'resolved' ? 'Was firing since' : 'Firing since', f.since),
            field('Calls', f.calls.toLocaleString('en-US')),
            field('Resembles (Entra)', f.entraReason ?? '—'),
            field('Rule', f.rule),
          ],
        },
        section(`*What fails*\n${slackEscape(f.whatFails)}\n${slackEscape(f.entra)}`),
      ];
      if (f.state !== 'resolved' && f.actions.length > 0) {
        blocks.push(section(`*What to do*\n${f.actions.map((a) => `• ${slackEscape(a)}`).join('\n')}`));
      }
      if (f.acknowledgedBy)
        blocks.push({
          type: 'context',
          elements: [mrkdwn(`Acknowledged by ${slackEscape(f.acknowledgedBy)}`)],
        });
      blocks.push({
        type: 'actions',
        elements: [
          {
            type: 'button',
            text: { type: 'plain_text', text: clip(`Open incident #${f.incidentId}`, slackLimits.button) },
            url: clip(f.incidentUrl, slackLimits.url),
          },
        ],
      });
      // `text` is the notification and screen-reader fallback when blocks are shown.
      return { subject: f.title, body: JSON.stringify({ text: clip(slackEscape(f.title), 3000), blocks }) };
    },
    renderTest(ctx, now, requestedBy) {
      const title = testTitle(ctx);
      const blocks = [
        section(`${icon.test} *${slackEscape(title)}*`),
        section(slackEscape(testText(now, requestedBy))),
        {
          type: 'actions',
          elements: [
            {
              type: 'button',
              text: { type: 'plain_text', text: 'Open the dashboard' },
              url: clip(`${ctx.baseUrl}/`, slackLimits.url),
            },
          ],
        },
      ];
      return { subject: title, body: JSON.stringify({ text: clip(slackEscape(title), 3000), blocks }) };
    },
    send: (m) =>
      postJson(config.url, m.body, { secrets, timeoutMs, headers: { 'x-scimtap-delivery': m.deliveryId } }),
  };
}
