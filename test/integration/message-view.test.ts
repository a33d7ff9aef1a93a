import { afterEach, describe, expect, it } from 'vitest';
import type { MessageView } from '../../server/store/queries/notifications.js';
import { type Receivers, startReceivers } from '../helpers/receivers.js';
import { MIN, type Scene, startScene, users } from './alerts-harness.js';

// GET /api/notifications/:id/message: what a receiver gets (or will get), for the dashboard's viewer. An email's
// subject, text and HTML in any mode; another receiver's body as posted, its secrets masked.

const SLACK_PATH = '/slack/services/T0VIEW/B0VIEW/v1ewSlackS3cretAB12';
const TEAMS_PATH = '/teams/workflows/view/triggers/manual/run?sig=V1ewT3amsS1gnatureCD34';
const PD_KEY = 'V1ewR0ut1ngK3yS3cretXXXXXXXXPD56';
const WEBHOOK_PATH = '/webhook/scimtap/v1ewWebhookS3cretEF78';
const WEBHOOK_SECRET = 'view-hmac-shared-secret-0123456789';
const secrets = [SLACK_PATH, TEAMS_PATH.split('?')[1], PD_KEY, WEBHOOK_PATH, WEBHOOK_SECRET];

let scene: Scene;
let rx: Receivers | undefined;
afterEach(async () => {
  await scene?.close();
  await rx?.close();
  rx = undefined;
});

/** A healthy cycle, then three calls rejected with 401: `credentials` fires. */
async function tokenExpires() {
  const people = users(5);
  await scene.entra.probe();
  await scene.entra.each(people, (u) => scene.entra.provision(u));
  await scene.settle();
  scene.advance(40 * MIN);
  scene.target.setFaults({ tokenExpired: true });
  for (const u of people.slice(0, 3)) await scene.entra.update(u);
  await scene.settle();
  await scene.tick();
  return (await scene.api('/api/incidents?rule=credentials')).body.items[0] as {
    id: number;
    notifications: { id: number; receiver: string; state: string; recipients: string[] }[];
  };
}

const message = async (id: number) => {
  const res = await scene.api<MessageView>(`/api/notifications/${id}/message`);
  expect(res.status).toBe(200);
  return res.body;
};

describe('GET /api/notifications/:id/message', () => {
  it('an email sent over SMTP: the subject, text and HTML the SMTP server received', async () => {
    scene = await startScene();
    const incident = await tokenExpires();
    const row = incident.notifications.find((n) => n.receiver === 'email')!;
    expect(row.state).toBe('sent');
    const view = await message(row.id);
    const [mail] = scene.emails();
    expect(view).toMatchObject({
      id: row.id,
      format: 'email',
      type: 'email',
      receiver: 'email',
      event: 'first',
      state: 'sent',
      incidentId: incident.id,
      recipients: ['ops@example.com'],
      subject: mail.subject,
    });
    if (view.format !== 'email') throw new Error('not an email');
    expect(view.text.trim()).toBe(String(mail.text).trim());
    expect(view.html).toBe(mail.html);
    expect(view.html).toContain('<h3>What is failing</h3>');
  }, 60_000);

  it('without SMTP or a recipient: the email waiting in the outbox is readable all the same', async () => {
    scene = await startScene({ env: { SCIMTAP_SMTP_URL: '', SCIMTAP_NOTIFY_TO: '' } });
    const incident = await tokenExpires();
    const row = incident.notifications.find((n) => n.receiver === 'email')!;
    expect(row).toMatchObject({ state: 'unsent', recipients: [] });
    const view = await message(row.id);
    expect(view).toMatchObject({ format: 'email', state: 'unsent', recipients: [] });
    if (view.format !== 'email') throw new Error('not an email');
    expect(view.subject).toMatch(/^\[FIRING critical\] Tanium SSO: /);
    expect(view.text).toContain('What is failing');
    expect(view.text).toContain(`/incidents/${incident.id}`);
    expect(view.html).toMatch(/^<!doctype html>/);
    expect(scene.emails()).toEqual([]);
  }, 60_000);

  it('other receivers: the JSON body each received, pretty-printed, with no secret but a masked routing key', async () => {
    rx = await startReceivers();
    scene = await startScene({
      env: {
        SCIMTAP_SLACK_WEBHOOK_URL: rx.base + SLACK_PATH,
        SCIMTAP_TEAMS_WEBHOOK_URL: rx.base + TEAMS_PATH,
        SCIMTAP_PAGERDUTY_ROUTING_KEY: PD_KEY,
        SCIMTAP_PAGERDUTY_URL: `${rx.base}/pagerduty/v2/enqueue`,
        SCIMTAP_WEBHOOK_URL: rx.base + WEBHOOK_PATH,
        SCIMTAP_WEBHOOK_SECRET: WEBHOOK_SECRET,
      },
    });
    const incident = await tokenExpires();
    const views = new Map<string, MessageView>();
    for (const n of incident.notifications) views.set(n.receiver, await message(n.id));
    expect([...views.keys()].sort()).toEqual(['email', 'pagerduty', 'slack', 'teams', 'webhook']);

    for (const name of ['slack', 'teams', 'webhook'] as const) {
      const view = views.get(name)!;
      expect(view).toMatchObject({ format: 'json', type: name, state: 'sent' });
      if (view.format !== 'json') throw new Error('not JSON');
      expect(view.payload).toContain('\n  ');
      expect(JSON.parse(view.payload), name).toEqual(rx.on(name)[0].json);
    }
    const pd = views.get('pagerduty')!;
    if (pd.format !== 'json') throw new Error('not JSON');
    const sent = rx.on('pagerduty')[0].json as Record<string, unknown>;
    expect(sent.routing_key).toBe(PD_KEY);
    expect(JSON.parse(pd.payload)).toEqual({ ...sent, routing_key: '…PD56' });
    expect(pd.note).toMatch(/routing_key .* masked/);
    expect(views.get('webhook')).toMatchObject({ note: expect.stringContaining('X-Scimtap-Signature') });

    const seen = JSON.stringify([...views.values()]);
    for (const s of secrets) expect(seen).not.toContain(s);
  }, 60_000);

  it('404 for a notification that does not exist', async () => {
    scene = await startScene();
    const res = await scene.api('/api/notifications/999999/message');
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ error: 'notFound' });
  });
});
