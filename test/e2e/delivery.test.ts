import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDashboard, launchChromium } from '../helpers/browser.js';
import { serverFor, stores } from '../helpers/postgres.js';
import { type Receivers, startReceivers } from '../helpers/receivers.js';
import { MIN, type Scene, startScene, users } from '../integration/alerts-harness.js';

// The incident page's delivery panel in real Chromium: each receiver's state, a permanent failure's reason,
// and never a webhook URL or routing key.

const SLACK_PATH = '/slack/services/T0/B0/uiS3cretSlackPathAB12';
const PD_KEY = 'UiR0ut1ngK3yS3cretXXXXXXXXXXPD99';

let browser: Browser;
let rx: Receivers;
let webRoot: string;

beforeAll(async () => {
  browser = await launchChromium();
  webRoot = mkdtempSync(join(tmpdir(), 'scimtap-web-'));
  await buildDashboard(webRoot);
  rx = await startReceivers();
  rx.answer('pagerduty', {
    status: 400,
    body: '{"status":"invalid event","message":"Event object is invalid"}',
  });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await rx?.close();
});

// The same page on either store (issue 13): the dashboard reads the API, which PostgreSQL answers as SQLite does.
describe.each(stores)('incident page (%s)', (store) => {
  let scene: Scene;
  // Started before the scene and stopped after it (vitest runs before-hooks in order, after-hooks in reverse).
  const pg = serverFor(store);
  beforeAll(async () => {
    scene = await startScene({
      postgres: pg.server,
      env: {
        SCIMTAP_SLACK_WEBHOOK_URL: rx.base + SLACK_PATH,
        SCIMTAP_PAGERDUTY_ROUTING_KEY: PD_KEY,
        SCIMTAP_PAGERDUTY_URL: `${rx.base}/pagerduty/v2/enqueue`,
      },
      start: { webRoot },
    });
  }, 120_000);
  afterAll(async () => {
    await scene?.close();
  });

  it('shows where each receiver stands, with the reason of a permanent failure, and no secret', async () => {
    const people = users(5);
    await scene.entra.probe();
    await scene.entra.each(people, (u) => scene.entra.provision(u));
    await scene.settle();
    scene.advance(40 * MIN);
    scene.target.setFaults({ tokenExpired: true });
    for (const u of people.slice(0, 3)) await scene.entra.update(u);
    await scene.settle();
    await scene.tick();
    const incident = (await scene.api('/api/incidents?rule=credentials')).body.items[0];

    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${scene.scimtap.adminUrl}/incidents/${incident.id}`);
    const panel = page.getByRole('list', { name: 'Delivery by receiver' });
    await panel.waitFor();
    const line = (name: string) => panel.getByRole('listitem').filter({ hasText: name });
    await expect.poll(() => line('email').innerText()).toMatch(/first.*sent/s);
    await expect.poll(() => line('slack').innerText()).toMatch(/first.*sent/s);
    const pd = await line('pagerduty').innerText();
    expect(pd).toMatch(/failed/);
    expect(pd).toContain(
      'HTTP 400 Bad Request: {"status":"invalid event","message":"Event object is invalid"}',
    );
    expect(pd).toContain('…PD99');
    const html = await page.content();
    expect(html).not.toContain(SLACK_PATH);
    expect(html).not.toContain(PD_KEY);
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);
});
