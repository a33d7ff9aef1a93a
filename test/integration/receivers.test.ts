import { createHmac, timingSafeEqual } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createOutbox } from '../../server/notify/outbox.js';
import { maxResponseBytes } from '../../server/notify/receivers/http.js';
import { createSlackReceiver } from '../../server/notify/receivers/slack.js';
import { openDatabase } from '../../server/store/db.js';
import { queueMessage, sqliteOutboxStore } from '../../server/store/queries/outbox.js';
import { startUpstream } from '../helpers/http.js';
import { type Receivers, startReceivers } from '../helpers/receivers.js';
import { MIN, type Scene, startScene, tokenExpires, users } from './alerts-harness.js';

// Secrets as they look in real life: the webhook URL's path is the key, PagerDuty's routing key is 32 characters.
const SLACK_PATH = '/slack/services/T0SCIMTAP/B0SCIMTAP/sl4ckS3cretTok3nZZ91';
const TEAMS_PATH = '/teams/workflows/abc123/triggers/manual/run?sig=T3amsS1gnatureS3cretQQ42';
const PD_KEY = 'R0ut1ngK3yS3cretXXXXXXXXXXXXPD77';
const WEBHOOK_PATH = '/webhook/scimtap/whS3cretPathWW13';
const WEBHOOK_SECRET = 'hmac-shared-secret-0123456789';
const secrets = [SLACK_PATH, TEAMS_PATH.split('?')[1], PD_KEY, WEBHOOK_PATH, WEBHOOK_SECRET];

async function tokenFixed(scene: Scene, people = users(5)) {
  scene.target.setFaults({ tokenExpired: false });
  scene.advance(40 * MIN);
  expect((await scene.entra.probe()).status).toBe(200);
  for (const u of people) expect((await scene.entra.update(u)).status).toBe(200);
  await scene.settle();
  scene.advance(2 * MIN);
  await scene.tick();
}

// biome-ignore lint/suspicious/noExplicitAny: JSON from the wire, checked field by field
type Json = any;

/** Block Kit as Slack validates it (api.slack.com/reference/block-kit): the types and limits scimtap uses. */
function expectValidSlack(body: Json) {
  expect(typeof body.text).toBe('string');
  expect(body.text.length).toBeGreaterThan(0);
  expect(Array.isArray(body.blocks)).toBe(true);
  expect(body.blocks.length).toBeGreaterThan(0);
  expect(body.blocks.length).toBeLessThanOrEqual(50);
  const textObject = (t: Json, max: number, types = ['mrkdwn', 'plain_text']) => {
    expect(types).toContain(t.type);
    expect(typeof t.text).toBe('string');
    expect(t.text.length).toBeGreaterThan(0);
    expect([...t.text].length).toBeLessThanOrEqual(max);
  };
  for (const b of body.blocks) {
    expect(['header', 'section', 'context', 'actions', 'divider']).toContain(b.type);
    if (b.type === 'header') textObject(b.text, 150, ['plain_text']);
    if (b.type === 'section') {
      expect(b.text || b.fields).toBeTruthy();
      if (b.text) textObject(b.text, 3000);
      if (b.fields) {
        expect(b.fields.length).toBeLessThanOrEqual(10);
        for (const f of b.fields) textObject(f, 2000);
      }
    }
    if (b.type === 'context') {
      expect(b.elements.length).toBeLessThanOrEqual(10);
      for (const e of b.elements) textObject(e, 3000);
    }
    if (b.type === 'actions') {
      expect(b.elements.length).toBeLessThanOrEqual(25);
      for (const e of b.elements) {
        expect(e.type).toBe('button');
        textObject(e.text, 75, ['plain_text']);
        expect(e.url.length).toBeLessThanOrEqual(3000);
        expect(() => new URL(e.url)).not.toThrow();
      }
    }
  }
}

/** The Teams envelope and an Adaptive Card ≥ 1.4 made of the elements scimtap uses, with their required properties. */
function expectValidTeamsCard(body: Json) {
  expect(body.type).toBe('message');
  expect(body.attachments).toHaveLength(1);
  const [a] = body.attachments;
  expect(a.contentType).toBe('application/vnd.microsoft.card.adaptive');
  const card = a.content;
  expect(card.type).toBe('AdaptiveCard');
  expect(card.$schema).toBe('http://adaptivecards.io/schemas/adaptive-card.json');
  const [major, minor] = String(card.version).split('.').map(Number);
  expect(major > 1 || (major === 1 && minor >= 4)).toBe(true);
  expect(card.body.length).toBeGreaterThan(0);
  for (const e of card.body) {
    expect(['TextBlock', 'FactSet']).toContain(e.type);
    if (e.type === 'TextBlock') expect(typeof e.text).toBe('string');
    if (e.type === 'FactSet') {
      expect(e.facts.length).toBeGreaterThan(0);
      for (const f of e.facts) {
        expect(typeof f.title).toBe('string');
        expect(typeof f.value).toBe('string');
      }
    }
  }
  for (const act of card.actions) {
    expect(act.type).toBe('Action.OpenUrl');
    expect(typeof act.title).toBe('string');
    expect(() => new URL(act.url)).not.toThrow();
  }
  expect(JSON.stringify(body).length).toBeLessThan(28 * 1024);
}

/** PagerDuty Events API v2 (developer.pagerduty.com/api-reference/368ae3d938c9e-send-an-event-to-pager-duty). */
function expectValidPagerDuty(body: Json) {
  expect(body.routing_key).toBe(PD_KEY);
  expect(['trigger', 'acknowledge', 'resolve']).toContain(body.event_action);
  expect(typeof body.dedup_key).toBe('string');
  expect(body.dedup_key.length).toBeLessThanOrEqual(255);
  if (body.event_action === 'trigger') {
    const p = body.payload;
    expect(p.summary.length).toBeGreaterThan(0);
    expect(p.summary.length).toBeLessThanOrEqual(1024);
    expect(p.source.length).toBeGreaterThan(0);
    expect(['critical', 'error', 'warning', 'info']).toContain(p.severity);
    expect(new Date(p.timestamp).toISOString()).toBe(p.timestamp);
    for (const l of body.links ?? []) expect(() => new URL(l.href)).not.toThrow();
  } else expect(body.payload).toBeUndefined();
}

/** Alertmanager's webhook payload, version 4. */
function expectAlertmanagerV4(body: Json, status: 'firing' | 'resolved') {
  expect(Object.keys(body).sort()).toEqual(
    [
      'version',
      'groupKey',
      'truncatedAlerts',
      'status',
      'receiver',
      'groupLabels',
      'commonLabels',
      'commonAnnotations',
      'externalURL',
      'alerts',
    ].sort(),
  );
  expect(body).toMatchObject({ version: '4', status, receiver: 'webhook' });
  expect(typeof body.groupKey).toBe('string');
  expect(body.alerts).toHaveLength(1);
  const [a] = body.alerts;
  expect(Object.keys(a).sort()).toEqual(
    ['status', 'labels', 'annotations', 'startsAt', 'endsAt', 'generatorURL', 'fingerprint'].sort(),
  );
  expect(a.status).toBe(status);
  expect(a.labels).toMatchObject({
    alertname: 'credentials',
    app: 'Tanium SSO',
    severity: 'critical',
    scope: 'app',
  });
  expect(a.fingerprint).toMatch(/^[0-9a-f]{16}$/);
  expect(new Date(a.startsAt).toISOString()).toBe(a.startsAt);
  if (status === 'firing') expect(a.endsAt).toBe('0001-01-01T00:00:00Z');
  else expect(Date.parse(a.endsAt)).toBeGreaterThan(Date.parse(a.startsAt));
  expect(body.commonLabels).toEqual(a.labels);
}

function verifyHmac(hit: { raw: string; headers: Record<string, unknown> }, now: number) {
  const timestamp = Number(hit.headers['x-scimtap-timestamp']);
  // the receiver's replay check: the signed timestamp is recent
  expect(Math.abs(now / 1000 - timestamp)).toBeLessThan(300);
  const expected = `sha256=${createHmac('sha256', WEBHOOK_SECRET).update(`${timestamp}.${hit.raw}`).digest('hex')}`;
  const got = String(hit.headers['x-scimtap-signature']);
  expect(got.length).toBe(expected.length);
  expect(timingSafeEqual(Buffer.from(got), Buffer.from(expected))).toBe(true);
}

describe('on-call receivers, against local HTTP receivers', () => {
  let scene: Scene;
  let rx: Receivers;
  let logs: string[];
  afterEach(async () => {
    await scene?.close();
    await rx?.close();
  });

  async function start(more: { receivers?: unknown[]; env?: Record<string, string> } = {}) {
    rx = await startReceivers();
    logs = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        logs.push(String(chunk));
        done();
      },
    });
    scene = await startScene({
      env: {
        SCIMTAP_SLACK_WEBHOOK_URL: rx.base + SLACK_PATH,
        SCIMTAP_TEAMS_WEBHOOK_URL: rx.base + TEAMS_PATH,
        SCIMTAP_PAGERDUTY_ROUTING_KEY: PD_KEY,
        SCIMTAP_PAGERDUTY_URL: `${rx.base}/pagerduty/v2/enqueue`,
        SCIMTAP_WEBHOOK_URL: rx.base + WEBHOOK_PATH,
        SCIMTAP_WEBHOOK_SECRET: WEBHOOK_SECRET,
        ...more.env,
      },
      config: more.receivers ? { receivers: more.receivers } : undefined,
      start: { logger: pino({ level: 'info' }, sink) },
    });
  }

  it('fire → acknowledge → resolve: Slack blocks, a Teams card, PagerDuty trigger/acknowledge/resolve with one dedup_key, a signed Alertmanager v4 webhook', async () => {
    await start();
    await tokenExpires(scene);
    await scene.tick();

    const [slack] = rx.on('slack');
    expect(rx.on('slack')).toHaveLength(1);
    expect(slack.path).toBe(SLACK_PATH);
    expectValidSlack(slack.json);
    const slackText = JSON.stringify(slack.json);
    for (const fact of [
      'critical',
      'Tanium SSO',
      'Firing since',
      'Calls',
      'EncounteredQuarantineException',
      'What to do',
    ])
      expect(slackText).toContain(fact);
    const incident = (await scene.api('/api/incidents?rule=credentials')).body.items[0];
    expect(slackText).toContain(`${scene.scimtap.adminUrl}/incidents/${incident.id}`);

    expect(rx.on('teams')).toHaveLength(1);
    expectValidTeamsCard(rx.on('teams')[0].json);
    expect(JSON.stringify(rx.on('teams')[0].json)).toContain('EncounteredQuarantineException');

    const webhook = rx.on('webhook');
    expect(webhook).toHaveLength(1);
    expectAlertmanagerV4(webhook[0].json, 'firing');
    verifyHmac(webhook[0], scene.clock.now);

    // acknowledged in scimtap: PagerDuty hears it, the chat channels are not pinged again
    const ack = await scene.api(`/api/incidents/${incident.id}/ack`, { method: 'POST', body: { by: 'ada' } });
    expect(ack.status).toBe(200);
    await scene.tick();
    await tokenFixed(scene);
    await scene.tick();

    const pd = rx.on('pagerduty').map((h) => h.json);
    expect(pd.map((e: Json) => e.event_action)).toEqual(['trigger', 'acknowledge', 'resolve']);
    for (const e of pd) expectValidPagerDuty(e);
    expect(new Set(pd.map((e: Json) => e.dedup_key)).size).toBe(1);
    expect(pd[0].dedup_key).toContain(incident.key);
    expect(pd[0].payload).toMatchObject({ severity: 'critical', source: 'Tanium SSO', group: 'credentials' });
    expect(rx.on('pagerduty')[0].path).toBe('/pagerduty/v2/enqueue');

    expect(rx.on('slack')).toHaveLength(2);
    expectValidSlack(rx.on('slack')[1].json);
    expect(rx.on('slack')[1].json.text).toMatch(/^\[RESOLVED critical\]/);
    expect(rx.on('teams')).toHaveLength(2);
    expectValidTeamsCard(rx.on('teams')[1].json);
    expect(rx.on('webhook')).toHaveLength(2);
    expectAlertmanagerV4(rx.on('webhook')[1].json, 'resolved');
    verifyHmac(rx.on('webhook')[1], scene.clock.now);
    expect(rx.on('webhook')[1].json.alerts[0].fingerprint).toBe(webhook[0].json.alerts[0].fingerprint);

    // the incident page's delivery panel: every receiver, every message, sent
    const view = (await scene.api(`/api/incidents/${incident.id}`)).body;
    const byReceiver = (name: string) =>
      view.notifications.filter((n: Json) => n.receiver === name).map((n: Json) => `${n.event}:${n.state}`);
    expect(byReceiver('email')).toEqual(['first:sent', 'resolved:sent']);
    expect(byReceiver('slack')).toEqual(['first:sent', 'resolved:sent']);
    expect(byReceiver('teams')).toEqual(['first:sent', 'resolved:sent']);
    expect(byReceiver('webhook')).toEqual(['first:sent', 'resolved:sent']);
    expect(byReceiver('pagerduty')).toEqual(['first:sent', 'acknowledged:sent', 'resolved:sent']);
    const pdRow = view.notifications.find((n: Json) => n.receiver === 'pagerduty');
    expect(pdRow.deliveries[0]).toMatchObject({ ok: true, responseCode: 202 });
    expect(pdRow.recipients).toEqual([`${new URL(rx.base).host} key …PD77`]);
  }, 60_000);

  it('receivers down for 10 minutes get their message exactly once when they come back', async () => {
    await start();
    await rx.down();
    await tokenExpires(scene);
    for (let minute = 0; minute < 10; minute++) {
      await scene.tick();
      scene.advance(MIN);
    }
    const waiting = (await scene.api('/api/notifications?state=unsent')).body.items;
    expect(waiting.map((n: Json) => n.receiver).sort()).toEqual(['pagerduty', 'slack', 'teams', 'webhook']);
    for (const n of waiting) {
      expect(n.attempts).toBeGreaterThanOrEqual(4);
      expect(n.deliveries.every((d: Json) => !d.ok && d.retryable)).toBe(true);
      expect(n.lastError).toMatch(/ECONNREFUSED|fetch failed/);
    }
    await rx.up();
    // past the longest backoff so far, then a few more runs: nothing twice
    scene.advance(16 * MIN);
    await scene.tick();
    // signed when sent (now), not when queued 26 minutes ago: a receiver's replay window accepts it
    verifyHmac(rx.on('webhook')[0], scene.clock.now);
    await scene.tick();
    scene.advance(16 * MIN);
    await scene.tick();
    for (const kind of ['slack', 'teams', 'pagerduty', 'webhook']) expect(rx.on(kind)).toHaveLength(1);
    const rows = (await scene.api('/api/notifications')).body.items;
    expect(rows.every((n: Json) => n.state === 'sent')).toBe(true);
  }, 60_000);

  it('a permanent 4xx is marked failed with the reason shown and not retried; 429 waits for Retry-After', async () => {
    await start();
    // Slack's answer to a removed webhook; it echoes the secret path back (hostile), which must not be stored
    rx.answer('slack', { status: 404, body: `no_service ${SLACK_PATH}` });
    rx.answer('teams', { status: 429, body: 'slow down', headers: { 'retry-after': '600' } });
    await tokenExpires(scene);
    await scene.tick();
    const slack = (await scene.api('/api/notifications?receiver=slack')).body.items[0];
    expect(slack).toMatchObject({ state: 'failed', attempts: 1, nextAttemptAt: null });
    expect(slack.lastError).toBe('HTTP 404 Not Found: no_service [secret]');
    expect(slack.deliveries).toEqual([
      expect.objectContaining({ ok: false, retryable: false, responseCode: 404 }),
    ]);
    const teams = (await scene.api('/api/notifications?receiver=teams')).body.items[0];
    expect(teams).toMatchObject({ state: 'unsent', attempts: 1 });
    // Retry-After (10 min) beats the 30 s backoff
    expect(Date.parse(teams.nextAttemptAt)).toBe(scene.clock.now + 10 * MIN);

    for (let i = 0; i < 5; i++) {
      scene.advance(5 * MIN);
      await scene.tick();
    }
    expect(rx.on('slack')).toHaveLength(1);
    expect((await scene.api('/api/notifications?receiver=slack')).body.items[0].attempts).toBe(1);
    expect(rx.on('teams')).toHaveLength(3);
  }, 60_000);

  it('routing: severities and rules choose the receivers; email keeps its default', async () => {
    await start({
      receivers: [
        { type: 'pagerduty', name: 'pagerduty', routingKey: PD_KEY, severities: ['critical'] },
        { type: 'slack', name: 'slack', url: 'http://placeholder.invalid/', rules: ['stuckObject'] },
      ],
    });
    await tokenExpires(scene);
    await scene.tick();
    // credentials is critical and not stuckObject: PagerDuty yes, Slack no; Teams and webhook (no routes) yes
    expect(rx.on('pagerduty')).toHaveLength(1);
    expect(rx.on('slack')).toHaveLength(0);
    expect(rx.on('teams')).toHaveLength(1);
    expect(rx.on('webhook')).toHaveLength(1);
    expect(scene.emails()).toHaveLength(1);
    const listed = (await scene.api('/api/notifications')).body.receivers;
    expect(listed.find((r: Json) => r.name === 'pagerduty')).toMatchObject({
      severities: ['critical'],
      rules: null,
    });
    expect(listed.find((r: Json) => r.name === 'slack')).toMatchObject({ rules: ['stuckObject'] });
  }, 60_000);

  it('POST /api/notifications/test?receiver=<name> sends a test to that receiver only', async () => {
    await start();
    const res = await scene.api('/api/notifications/test?receiver=teams', { method: 'POST', body: {} });
    expect(res.status).toBe(202);
    expect(res.body.notification).toMatchObject({ receiver: 'teams', event: 'test' });
    await scene.tick();
    expect(rx.on('teams')).toHaveLength(1);
    expectValidTeamsCard(rx.on('teams')[0].json);
    expect(rx.hits).toHaveLength(1);
    expect(scene.emails()).toHaveLength(0);

    await scene.api('/api/notifications/test?receiver=pagerduty', { method: 'POST', body: {} });
    await scene.api('/api/notifications/test?receiver=webhook', { method: 'POST', body: {} });
    await scene.api('/api/notifications/test?receiver=slack', { method: 'POST', body: {} });
    await scene.tick();
    expectValidPagerDuty(rx.on('pagerduty')[0].json);
    expect(rx.on('webhook')[0].json).toMatchObject({ version: '4', status: 'firing' });
    verifyHmac(rx.on('webhook')[0], scene.clock.now);
    expectValidSlack(rx.on('slack')[0].json);

    const missing = await scene.api('/api/notifications/test?receiver=nope', { method: 'POST', body: {} });
    expect(missing.status).toBe(404);
    expect(missing.body.message).toContain('slack');
    // without a receiver: a test email, as before
    await scene.api('/api/notifications/test', { method: 'POST', body: {} });
    await scene.tick();
    expect(scene.emails()).toHaveLength(1);
  }, 60_000);

  it('secrets never reach the API, the outbox, the delivery log or the logs; receivers show as host and last 4', async () => {
    await start();
    rx.answer('pagerduty', {
      status: 400,
      body: `{"status":"invalid event","errors":["bad key ${PD_KEY}"]}`,
    });
    await tokenExpires(scene);
    await scene.tick();
    const seen = [
      JSON.stringify((await scene.api('/api/health')).body),
      JSON.stringify((await scene.api('/api/notifications')).body),
      JSON.stringify((await scene.api('/api/incidents')).body),
      JSON.stringify((await scene.api('/api/status')).body),
      JSON.stringify(scene.scimtap.db.$client.prepare('select * from outbox').all()),
      JSON.stringify(scene.scimtap.db.$client.prepare('select * from delivery_attempts').all()),
      logs.join(''),
    ].join('\n');
    for (const s of secrets) expect(seen).not.toContain(s);
    expect(seen).toContain('[secret]');
    const receivers = (await scene.api('/api/notifications')).body.receivers;
    const host = new URL(rx.base).host;
    expect(receivers).toEqual([
      { name: 'email', type: 'email', target: 'ops@example.com', severities: null, rules: null },
      { name: 'slack', type: 'slack', target: `${host} …ZZ91`, severities: null, rules: null },
      { name: 'teams', type: 'teams', target: `${host} …QQ42`, severities: null, rules: null },
      { name: 'pagerduty', type: 'pagerduty', target: `${host} key …PD77`, severities: null, rules: null },
      { name: 'webhook', type: 'webhook', target: `${host} …WW13`, severities: null, rules: null },
    ]);
  }, 60_000);
});

describe('a hostile receiver', () => {
  it('a huge answer is cut at 4 KB with an echoed secret removed even across the cut; a 3xx is not followed; silence times out', async () => {
    let mode: 'huge' | 'redirect' | 'silent' = 'huge';
    const SECRET_PATH = '/hook/aVeryS3cretWebhookPathThatMustNeverBeStored0001';
    const server = await startUpstream((req, res) => {
      if (mode === 'huge') {
        // the secret straddles the 4 KB cut
        const pad = 'x'.repeat(maxResponseBytes - 20);
        res.writeHead(500);
        res.end(`${pad}${req.url}${'y'.repeat(1_000_000)}`);
      } else if (mode === 'redirect') {
        res.writeHead(302, { location: 'http://127.0.0.1:1/elsewhere' });
        res.end();
      }
      // silent: never answers
    });
    try {
      const slack = createSlackReceiver(
        { type: 'slack', name: 'slack', url: server.url + SECRET_PATH },
        { timeoutMs: 500 },
      );
      const message = { body: '{"text":"t","blocks":[]}', deliveryId: 'd', event: 'test' as const };
      const huge = await slack.send(message);
      expect(huge).toMatchObject({ ok: false, retryable: true, responseCode: 500 });
      if (huge.ok) throw new Error('unreachable');
      expect(huge.error.length).toBeLessThanOrEqual(600);
      expect(huge.error).not.toContain('aVeryS3cret');
      expect(huge.error).not.toContain('0001');

      mode = 'redirect';
      const redirected = await slack.send(message);
      expect(redirected).toMatchObject({ ok: false, retryable: false, responseCode: 302 });
      expect(server.received).toHaveLength(2);

      mode = 'silent';
      const silent = await slack.send(message);
      expect(silent).toMatchObject({ ok: false, retryable: true, responseCode: null });
      if (silent.ok) throw new Error('unreachable');
      expect(silent.error).toBe('timeout: no answer within 500 ms');
    } finally {
      await server.close();
    }
  }, 30_000);
});

describe('a receiver taken out of the config', () => {
  it('leaves its rows waiting, with the reason on them', async () => {
    const db = openDatabase(join(mkdtempSync(join(tmpdir(), 'scimtap-orphan-')), 'db.sqlite'));
    const id = queueMessage(db, {
      receiver: 'oncall',
      target: 'events.pagerduty.com key …abcd',
      incidentId: null,
      event: 'test',
      sequence: 1,
      reasonKey: null,
      subject: 'test',
      body: '{}',
      now: 1,
    });
    const outbox = createOutbox({
      store: sqliteOutboxStore(db),
      clock: () => 2,
      sender: null,
      from: 'x@example.com',
      recipients: [],
    });
    await outbox.deliverDue();
    expect(db.$client.prepare('select state, attempts, last_error from outbox where id = ?').get(id)).toEqual(
      {
        state: 'unsent',
        attempts: 0,
        last_error: 'receiver "oncall" is not configured',
      },
    );
    await outbox.close();
    db.$client.close();
  });
});
