import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config.js';
import { type Demo, startDemo } from '../../server/demo/index.js';
import type { Incident, Message } from '../../web/src/types/api.js';
import { buildDashboard, launchChromium } from '../helpers/browser.js';

// A newcomer runs the demo (no SMTP, no recipient) and reads the email an incident would send, from the incident
// page, in real Chromium, under the admin listener's CSP: the email's HTML in a sandboxed srcdoc iframe.

let browser: Browser;
let demo: Demo;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'scimtap-viewer-'));
  const webRoot = join(dir, 'web');
  [browser] = await Promise.all([launchChromium(), buildDashboard(webRoot)]);
  const config = loadConfig({
    SCIMTAP_LISTEN: '127.0.0.1:0',
    SCIMTAP_ADMIN_LISTEN: '127.0.0.1:0',
    SCIMTAP_DB: join(dir, 'demo.db'),
  });
  expect(config.mode).toBe('demo');
  // The story compressed to a cycle every 300 ms: the token expires in cycle 4, `credentials` fires.
  demo = await startDemo(config, {
    logger: pino({ level: 'silent' }),
    webRoot,
    // Tanium alone: these pages are one app's, at the dashboard's root (the fleet page is another test's).
    apps: { 'contoso-expenses': false, 'fabrikam-hr': false },
    intervalMs: 300,
    users: 30,
    groups: 2,
    membersPerGroup: 3,
    rate: 0,
  });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await demo?.stop();
});

async function api<T>(path: string): Promise<T> {
  const res = await fetch(`${demo.scimtap.adminUrl}${path}`);
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

describe('the incident page’s message viewer, in the demo', () => {
  it('shows the queued email’s subject, text and HTML, with no CSP violation', async () => {
    let incident: Incident | undefined;
    await expect
      .poll(
        async () => {
          const { items } = await api<{ items: Incident[] }>('/api/incidents?rule=credentials');
          incident = items.find((i) => i.notifications?.some((n) => n.receiver === 'email'));
          return incident !== undefined;
        },
        { timeout: 60_000, interval: 250 },
      )
      .toBe(true);
    const row = incident!.notifications!.find((n) => n.receiver === 'email')!;
    // The demo never sends email: it waits in the outbox, with nobody to send it to.
    expect(row).toMatchObject({ state: 'unsent', recipients: [] });
    const message = await api<Message>(`/api/notifications/${row.id}/message`);
    if (message.format !== 'email') throw new Error('not an email');

    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    const problems: string[] = [];
    // Chromium logs each blocked inline style, script or frame to the console of the frame it happened in.
    page.on('console', (m) => {
      if (m.type() === 'error' || /Content Security Policy/i.test(m.text())) problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(e.message));
    let policy = '';
    page.on('response', (res) => {
      if (res.request().resourceType() === 'document')
        policy = res.headers()['content-security-policy'] ?? '';
    });
    await page.goto(`${demo.scimtap.adminUrl}/incidents/${incident!.id}`);
    expect(policy).toContain("frame-src 'none'");
    expect(policy).toContain("style-src 'self'");
    expect(policy).not.toContain('unsafe-inline');

    await page
      .getByRole('list', { name: 'Delivery by receiver' })
      .getByRole('button', { name: `View email #${row.id}` })
      .click();
    const dialog = page.getByRole('dialog', { name: `Email #${row.id}` });
    await dialog.waitFor();
    const subject = dialog.locator('.message-subject');
    await subject.waitFor();
    expect(await subject.innerText()).toBe(message.subject);
    expect(message.subject).toMatch(/^\[FIRING critical\] /);
    const text = await dialog.getByRole('figure', { name: 'Text' }).locator('pre').innerText();
    expect(text.trim()).toBe(message.text.trim());
    expect(text).toContain('What is failing');

    // The HTML: in an empty sandbox, drawn from srcdoc, with the email's own inline styles applied.
    const iframe = dialog.locator('iframe[title="Email HTML"]');
    expect(await iframe.getAttribute('sandbox')).toBe('');
    const frame = (await (await iframe.elementHandle())?.contentFrame())!;
    await frame.locator('h2').waitFor();
    expect(frame.url()).toBe('about:srcdoc');
    expect(await frame.locator('h2').innerText()).toBe(message.subject);
    // Chromium reports a blocked inline style on the console; give it a moment to arrive.
    await page.waitForTimeout(300);
    expect(problems).toEqual([]);
    expect(await frame.locator('body').evaluate((b) => getComputedStyle(b).color)).toBe('rgb(27, 31, 36)');

    await dialog.getByRole('button', { name: 'Close' }).click();
    await dialog.waitFor({ state: 'hidden' });
    expect(problems).toEqual([]);
    await page.close();
  }, 90_000);
});
