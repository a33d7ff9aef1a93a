import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../../server/demo/target/index.js';
import { type Scimtap, startScimtap } from '../../server/main.js';
import { buildDashboard, launchChromium, openPage as openBrowserPage } from '../helpers/browser.js';
import { loadFileConfig } from '../helpers/scimtap.js';
import { EntraClient, users } from '../integration/alerts-harness.js';

// The fleet page in Chromium (issue 14): three apps, one of them with rejected credentials. The first page lists
// them riskiest first; a row opens that app's pages under /apps/<id>/, whose data are that app's only; "All apps"
// comes back. Nothing on the way logs an error.

let browser: Browser;
let scimtap: Scimtap;
const targets: Target[] = [];
const apps = [
  { id: 'tanium', name: 'Tanium SSO', people: 8 },
  { id: 'contoso', name: 'Contoso Expenses', people: 5 },
  { id: 'fabrikam', name: 'Fabrikam HR', people: 3 },
];

function openPage(path: string): Promise<{ page: Page; errors: string[] }> {
  return openBrowserPage(browser, `${scimtap.adminUrl}${path}`);
}

beforeAll(async () => {
  browser = await launchChromium();
  const webRoot = mkdtempSync(join(tmpdir(), 'scimtap-web-'));
  await buildDashboard(webRoot);
  for (const _ of apps) targets.push(await startTarget());
  const { config } = loadFileConfig({
    apps: apps.map((a, i) => ({ id: a.id, name: a.name, upstream: new URL(targets[i].url).origin })),
  });
  scimtap = await startScimtap(config, { logger: pino({ level: 'silent' }), webRoot, periodicJobs: false });
  // Each app's initial cycle; then Fabrikam's token expires.
  for (const [i, a] of apps.entries()) {
    const entra = new EntraClient(() => `${scimtap.proxyUrl}/${a.id}`, targets[i].token);
    await entra.probe();
    await entra.each(users(a.people, a.id), (u) => entra.provision(u), 4);
    if (a.id === 'fabrikam') {
      targets[i].setFaults({ tokenExpired: true });
      for (const u of users(a.people, a.id)) await entra.update(u);
    }
  }
  for (const p of Object.values(scimtap.apps)) {
    p.recorder.flush();
    await p.alerts.tick();
  }
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await scimtap?.stop();
  for (const t of targets) await t.close();
});

describe('the fleet page', () => {
  it('lists every app riskiest first, opens one, shows only its data, and comes back', async () => {
    const { page, errors } = await openPage('/');
    const rows = page.locator('tr.fleet-row');
    await rows.first().waitFor();
    expect(await rows.count()).toBe(3);
    // The app whose credentials fail comes first, quarantine suspected.
    expect(await rows.nth(0).getAttribute('data-app-id')).toBe('fabrikam');
    expect(await rows.nth(0).getAttribute('data-state')).toBe('quarantineSuspected');
    expect(await rows.nth(0).getByTestId('firing-incidents').innerText()).toMatch(/credentials/i);
    expect(await page.getByTestId('fleet-counts').innerText()).toMatch(/3 apps/);
    const tanium = page.locator('tr[data-app-id="tanium"]');
    // lookup + create per user, plus the probe
    expect(await tanium.getByTestId('last-cycle').innerText()).toMatch(/17/);

    await page.getByRole('link', { name: 'Tanium SSO' }).click();
    await page.waitForURL(/\/apps\/tanium\/?$/);
    expect(await page.getByTestId('app-name').innerText()).toBe('Tanium SSO');

    // The app's cycles page lists its one cycle, not the other apps'.
    await page.getByRole('link', { name: 'Cycles', exact: true }).click();
    await page.waitForURL(/\/apps\/tanium\/cycles/);
    const cycleRows = page.locator('table tbody tr');
    await cycleRows.first().waitFor();
    expect(await cycleRows.count()).toBe(1);
    expect(await cycleRows.first().innerText()).toMatch(/17/);

    await page.getByRole('link', { name: 'All apps' }).click();
    await page.waitForURL((url) => url.pathname === '/');
    await rows.first().waitFor();
    expect(await rows.count()).toBe(3);
    expect(errors).toEqual([]);
    await page.close();
  });

  it("opens an email's deep link to an app's incident", async () => {
    const [incident] = (await (await fetch(`${scimtap.adminUrl}/api/incidents?app=fabrikam`)).json()).items;
    const { page, errors } = await openPage(`/apps/fabrikam/incidents/${incident.id}`);
    await page
      .getByText(/credentials rejected/i)
      .first()
      .waitFor();
    expect(await page.getByTestId('app-name').innerText()).toBe('Fabrikam HR');
    expect(errors).toEqual([]);
    await page.close();
  });
});
