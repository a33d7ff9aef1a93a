import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSimulator } from '../../server/demo/simulator/index.js';
import { startTarget, type Target } from '../../server/demo/target/index.js';
import { outcomeCounts } from '../../web/src/features/overview/outcome-counts.js';
import type { CycleDetail, Status } from '../../web/src/types/api.js';
import { buildDashboard, launchChromium } from '../helpers/browser.js';
import { send } from '../helpers/http.js';
import { startTestScimtap } from '../helpers/scimtap.js';

// The dashboard in real Chromium against a real scimtap that recorded Entra-like traffic from the simulator,
// forwarded to the demo SCIM target.

const screenshots = join(process.cwd(), 'test-output', 'screenshots');
const XSS_NAME = '<img src=x onerror=alert(1)>';
const CSV_HEADER =
  'app,id,activityDateTime,cycleId,provisioningAction,operation,status,identityType,identity,externalId,targetId,httpMethod,path,httpStatus,durationInMilliseconds,errorCode,scimType,reason,modifiedProperties';

let target: Target;
let scimtap: Awaited<ReturnType<typeof startTestScimtap>>;
let browser: Browser;
let conflictUser: string;
let webRoot: string;
const dialogs: string[] = [];
/** Content-Security-Policy violations on any page of any test (server/api/guard.ts sends the policy) */
const cspViolations: string[] = [];
/** CSP headers of the documents the pages loaded */
const documentPolicies: string[] = [];

/**
 * Collects CSP violations two ways: Chromium's console report, and the page's own securitypolicyviolation
 * event (which also fires for report-only and for violations Chromium does not log).
 */
async function watchCsp(page: Page, errors: string[]) {
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(
        `CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || 'inline'} (${e.sourceFile}:${e.lineNumber})`,
      );
    });
  });
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|CSP violation/i.test(m.text())) {
      cspViolations.push(m.text());
      errors.push(m.text());
    }
  });
  page.on('response', (res) => {
    if (res.request().resourceType() === 'document')
      documentPolicies.push(res.headers()['content-security-policy'] ?? '');
  });
}

async function api<T>(path: string): Promise<T> {
  const res = await fetch(`${scimtap.adminUrl}${path}`);
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** A page that fails the test on any console error or uncaught exception, and records dialogs (XSS). */
async function openPage(path: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  const errors: string[] = [];
  await watchCsp(page, []);
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  await page.goto(`${scimtap.adminUrl}${path}`);
  return { page, errors };
}

async function shot(page: Page, name: string) {
  await page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: true });
}

/** Entra-shaped POST /Users through the proxy, as the simulator would send it. */
function createUser(userName: string) {
  return send(`${scimtap.proxyUrl}/Users`, {
    method: 'POST',
    headers: { authorization: `Bearer ${target.token}`, 'content-type': 'application/scim+json' },
    body: JSON.stringify({
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      externalId: `ext-${userName.length}`,
      userName,
      active: true,
      displayName: userName,
      name: { givenName: 'X', familyName: 'Y' },
    }),
  });
}

async function waitFor<T>(
  what: string,
  get: () => Promise<T>,
  ok: (v: T) => boolean,
  timeoutMs = 20_000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await get();
    if (ok(v)) return v;
    if (Date.now() > until)
      throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v).slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  mkdirSync(screenshots, { recursive: true });
  webRoot = mkdtempSync(join(tmpdir(), 'scimtap-web-'));
  // Launch first: a missing Chromium fails fast with its own message.
  browser = await launchChromium();
  await buildDashboard(webRoot);
  target = await startTarget();
  scimtap = await startTestScimtap(target.url, { SCIMTAP_APP_NAME: 'Tanium SSO' }, { webRoot });

  const simulator = createSimulator({
    target: scimtap.proxyUrl,
    token: target.token,
    users: 40,
    groups: 4,
    membersPerGroup: 5,
    cycles: 2,
    intervalMs: 500,
    rate: 0,
    seed: 7,
  });
  conflictUser = simulator.userNames()[5];
  target.setFaults({ conflictUserNames: [conflictUser] });
  await simulator.run();
  const xss = await createUser(XSS_NAME);
  expect(xss.status).toBe(201);
  await waitFor(
    'the XSS user to be recorded',
    () => api<{ items: unknown[] }>(`/api/operations?q=${encodeURIComponent('<img')}`),
    (p) => p.items.length > 0,
  );
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await scimtap?.stop();
  await target?.close();
});

describe('overview', () => {
  it('shows the state, and the progress and counts /api/status and the cycle give', async () => {
    const { page, errors } = await openPage('/');
    await page.getByTestId('cycle-progress').waitFor();
    const status = await api<Status>('/api/status');
    expect(status.cycle).not.toBeNull();
    const cycle = status.cycle!;
    const detail = await api<CycleDetail>(`/api/cycles/${cycle.id}`);

    const banner = page.locator('.banner');
    expect(await banner.getAttribute('data-state')).toBe(status.state);
    expect(await banner.locator('.banner-reason').textContent()).toBe(status.reason);
    expect(await page.locator('.cycle-card').getAttribute('data-cycle-id')).toBe(String(cycle.id));

    const bar = page.getByTestId('cycle-progress');
    const expectedPercent = cycle.state === 'running' ? cycle.progress?.percent : 100;
    expect(await bar.getAttribute('aria-valuenow')).toBe(
      expectedPercent == null ? null : String(expectedPercent),
    );
    const processed = cycle.progress?.processed ?? cycle.usersTouched + cycle.groupsTouched;
    expect(await page.getByTestId('cycle-processed').textContent()).toContain(
      processed.toLocaleString('en-US'),
    );

    const counts = { ...outcomeCounts(detail), failed: cycle.failures };
    expect(counts.created).toBeGreaterThan(0);
    for (const [label, value] of Object.entries(counts)) {
      await expect
        .poll(() => page.locator(`[data-count="${label}"]`).textContent())
        .toBe(value.toLocaleString('en-US'));
    }
    await page.getByText('Operations per minute').waitFor();
    await page.locator('.recharts-surface').first().waitFor();
    await shot(page, 'overview');
    expect(errors).toEqual([]);
    await page.close();
  });
});

describe('cycles', () => {
  it('lists cycles and opens one with its per-object outcomes and operations', async () => {
    const { page, errors } = await openPage('/cycles');
    await page.locator('table tbody tr').first().waitFor();
    await shot(page, 'cycles');
    const cycles = await api<{ items: { id: number; kind: string }[] }>('/api/cycles');
    const initial = cycles.items.find((c) => c.kind === 'initial')!;
    await page.getByRole('link', { name: `#${initial.id}`, exact: true }).click();
    await page.getByRole('heading', { name: 'Per-object outcomes' }).waitFor();
    await page.getByRole('link', { name: conflictUser }).first().waitFor();
    await page.getByRole('heading', { name: 'Operations in this cycle' }).waitFor();
    await shot(page, 'cycle');
    expect(errors).toEqual([]);
    await page.close();
  });
});

describe('users and groups', () => {
  it('finds the failing user by search and opens its timeline with the error explained', async () => {
    const { page, errors } = await openPage('/identities');
    await page.locator('table tbody tr').first().waitFor();
    await page.getByLabel('Search').fill(conflictUser.slice(0, 10));
    const row = page.locator('tbody tr', { has: page.getByRole('link', { name: conflictUser }) });
    await row.waitFor();
    expect(await row.locator('.badge').textContent()).toContain('failure');
    // the filter is in the URL: a link to this view opens it again
    await expect.poll(() => new URL(page.url()).searchParams.get('q')).toBe(conflictUser.slice(0, 10));
    await shot(page, 'identities');
    await row.getByRole('link', { name: conflictUser }).click();
    await page.getByRole('heading', { name: 'Timeline' }).waitFor();
    await page.getByText('same unique name').first().waitFor();
    // the latest failure opens by itself, with the app's answer
    await page.locator('.body-view', { hasText: 'Response body' }).locator('pre').first().waitFor();
    expect(await page.locator('tbody tr.row-failure').count()).toBeGreaterThan(0);
    await shot(page, 'identity');
    expect(errors).toEqual([]);
    await page.close();
  });
});

describe('operations log', () => {
  it('loads, filters through the URL and shows captured markup as text', async () => {
    const { page, errors } = await openPage('/operations?status=failure');
    await page.getByRole('heading', { name: 'Operations log' }).waitFor();
    const rows = page.locator('table tbody tr');
    await rows.first().waitFor();
    // every row shown is a failure, and the conflicting user is among them
    expect(await page.locator('tbody .badge-success').count()).toBe(0);
    await page.getByText(conflictUser).first().waitFor();
    await shot(page, 'operations');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('opens a row detail with the error explained and the bodies as text', async () => {
    const { page, errors } = await openPage(`/operations?errorCode=EntryConflict`);
    await page.locator('tbody button.disclosure').first().click();
    await page.getByText('same unique name').first().waitFor();
    await page.getByText('Response body').first().waitFor();
    expect(
      await page.locator('.body-view', { hasText: 'Response body' }).locator('pre').textContent(),
    ).toContain('uniqueness');
    await shot(page, 'operation-detail');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('exports the filtered rows as CSV', async () => {
    const { page, errors } = await openPage('/operations?status=failure');
    await page.locator('table tbody tr').first().waitFor();
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: /Export CSV/ }).click(),
    ]);
    const csv = readFileSync((await download.path())!, 'utf8');
    expect(
      csv
        .split('\n')[0]
        .replace(/^\uFEFF/, '')
        .trim(),
    ).toBe(CSV_HEADER);
    const rows = parse(csv, { columns: true, bom: true }) as Record<string, string>[];
    const failures = await api<{ items: unknown[]; nextCursor: string | null }>(
      '/api/operations?status=failure&limit=1000',
    );
    expect(rows.length).toBe(failures.items.length);
    expect(rows.every((r) => r.status === 'failure')).toBe(true);
    expect(rows.some((r) => r.identity === conflictUser && r.errorCode === 'EntryConflict')).toBe(true);
    expect(errors).toEqual([]);
    await page.close();
  });

  it(`renders a userName of ${XSS_NAME} as text, never as markup`, async () => {
    const { page, errors } = await openPage(`/operations?q=${encodeURIComponent('<img')}`);
    await page.getByText(XSS_NAME).first().waitFor();
    expect(await page.locator('img[src="x"]').count()).toBe(0);
    await page.locator('tbody button.disclosure').first().click();
    await page.getByText('Request body').waitFor();
    expect(await page.locator('img[src="x"]').count()).toBe(0);
    await shot(page, 'xss-as-text');
    expect(dialogs).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  });
});

describe('deep links', () => {
  it('opens an email link with its filters, one operation, and says so when something does not exist', async () => {
    const { page, errors } = await openPage('/operations?status=failure&errorCode=EntryConflict');
    await page.locator('table tbody tr').first().waitFor();
    expect(await page.getByLabel('Status', { exact: true }).inputValue()).toBe('failure');
    expect(await page.getByLabel('Error code', { exact: true }).inputValue()).toBe('EntryConflict');
    const { items } = await api<{ items: { id: number }[] }>(
      '/api/operations?errorCode=EntryConflict&limit=1',
    );
    await page.goto(`${scimtap.adminUrl}/operations/${items[0].id}`);
    await page.getByRole('heading', { name: `Operation #${items[0].id}` }).waitFor();
    await page.getByText('same unique name').waitFor();
    await shot(page, 'operation');
    expect(errors).toEqual([]);

    await page.goto(`${scimtap.adminUrl}/identities/999999`);
    await page
      .getByRole('alert')
      .getByText(/Not found: no identity 999999/)
      .waitFor();
    await page.goto(`${scimtap.adminUrl}/no-such-page`);
    await page.getByRole('heading', { name: 'Page not found' }).waitFor();
    await page.close();
  });
});

describe('admin token', () => {
  it('asks for SCIMTAP_ADMIN_TOKEN once, keeps it for the tab, and sends it with every request and the CSV export', async () => {
    const token = 'admin-token-for-the-e2e-test';
    const guarded = await startTestScimtap(target.url, { SCIMTAP_ADMIN_TOKEN: token }, { webRoot });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await watchCsp(page, errors);
      await page.goto(`${guarded.adminUrl}/operations`);
      const input = page.getByLabel('Admin token');
      await input.fill('wrong-token-wrong-token');
      await page.getByRole('button', { name: 'Open dashboard' }).click();
      await page.getByText('That token was rejected').waitFor();
      await page.getByLabel('Admin token').fill(token);
      await page.getByRole('button', { name: 'Open dashboard' }).click();
      await page.getByRole('heading', { name: 'Operations log' }).waitFor();
      expect(await page.evaluate(() => sessionStorage.getItem('scimtap.adminToken'))).toBe(token);
      // a reload in the same tab does not ask again
      await page.reload();
      await page.getByRole('heading', { name: 'Operations log' }).waitFor();
      expect(await page.getByLabel('Admin token').count()).toBe(0);
      // a link cannot carry the bearer token: the export is fetched with it and handed over as a file
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.getByRole('link', { name: /Export CSV/ }).click(),
      ]);
      const csv = readFileSync((await download.path())!, 'utf8');
      expect(
        csv
          .split('\n')[0]
          .replace(/^\uFEFF/, '')
          .trim(),
      ).toBe(CSV_HEADER);
      await page.screenshot({ path: join(screenshots, 'token-accepted.png') });
      expect(errors).toEqual([]);
      await page.close();
    } finally {
      await guarded.stop();
    }
  });
});

describe('incidents', () => {
  it('shows a firing incident, acknowledges it, silences its rule, and sends a test email', async () => {
    // The app's token "expires": Entra's next calls get 401 and the credentials rule fires.
    target.setFaults({ tokenExpired: true });
    for (let i = 0; i < 4; i++) {
      await send(
        `${scimtap.proxyUrl}/Users?filter=${encodeURIComponent('userName eq "ada@contoso.example"')}`,
        {
          headers: { authorization: `Bearer ${target.token}` },
        },
      );
    }
    target.setFaults({ tokenExpired: false });
    type Incidents = { items: { id: number; rule: string; state: string; acknowledged: boolean }[] };
    const open = await waitFor(
      'a firing credentials incident',
      async () => {
        await scimtap.tick();
        return api<Incidents>('/api/incidents?state=firing');
      },
      (p) => p.items.some((i) => i.rule === 'credentials'),
    );
    const incident = open.items.find((i) => i.rule === 'credentials')!;

    const overview = await openPage('/');
    await overview.page.locator('.incident-list').getByRole('link', { name: 'credentials' }).waitFor();
    await shot(overview.page, 'overview-incident');
    expect(overview.errors).toEqual([]);
    await overview.page.close();

    const { page, errors } = await openPage('/incidents');
    const row = page.locator(`tr[data-incident-id="${incident.id}"]`);
    await row.waitFor();
    await row.getByRole('button', { name: /Acknowledge incident/ }).click();
    await row.getByText('acknowledged').waitFor();
    await expect
      .poll(
        async () =>
          (await api<Incidents>('/api/incidents?state=firing')).items.find((i) => i.id === incident.id)
            ?.acknowledged,
      )
      .toBe(true);

    await row.getByRole('button', { name: 'Silence credentials' }).click();
    const form = page.getByRole('form', { name: 'Silence credentials' });
    await form.getByLabel('Silence credentials for').selectOption({ label: '1 hour' });
    await form.getByLabel('Why (optional)').fill('rotating the token');
    const before = Date.now();
    await form.getByRole('button', { name: 'Silence', exact: true }).click();
    const silences = await waitFor(
      'the silence',
      () =>
        api<{ items: { rule: string; expiresAt: string; comment: string }[] }>('/api/silences?active=true'),
      (p) => p.items.some((s) => s.rule === 'credentials'),
    );
    const silence = silences.items.find((s) => s.rule === 'credentials')!;
    expect(silence.comment).toBe('rotating the token');
    expect(Date.parse(silence.expiresAt) - before).toBeGreaterThan(59 * 60_000);
    expect(Date.parse(silence.expiresAt) - before).toBeLessThan(61 * 60_000);
    await page
      .locator('section', { hasText: 'Silences in force' })
      .getByRole('rowheader', { name: 'credentials' })
      .waitFor();

    await page.getByRole('button', { name: /Send a test email/ }).click();
    await page.getByText(/Test email #\d+ queued/).waitFor();
    await page
      .locator('section', { hasText: 'Delivery log' })
      .getByText('test', { exact: true })
      .first()
      .waitFor();
    await shot(page, 'incidents');

    // Ending the silence is a bodiless DELETE: it too goes out as JSON, which the admin listener requires.
    await page.getByRole('button', { name: 'End the silence on credentials' }).click();
    await waitFor(
      'the silence to end',
      () => api<{ items: { rule: string }[] }>('/api/silences?active=true'),
      (p) => !p.items.some((s) => s.rule === 'credentials'),
    );
    await page
      .locator('section', { hasText: 'Silences in force' })
      .getByRole('rowheader', { name: 'credentials' })
      .waitFor({ state: 'detached' });

    await page.getByRole('link', { name: new RegExp(`#${incident.id} credentials`) }).click();
    await page.getByRole('heading', { name: 'Evidence' }).waitFor();
    await shot(page, 'incident');
    expect(errors).toEqual([]);
    expect(dialogs).toEqual([]);
    await page.close();
  });
});

describe('content security policy', () => {
  it('every page above loaded under the admin listener’s CSP and none of it was blocked', () => {
    // Runs last: the pages of every test above were watched.
    expect(documentPolicies.length).toBeGreaterThan(10);
    for (const policy of documentPolicies) {
      expect(policy).toContain("script-src 'self'");
      expect(policy).toContain("frame-ancestors 'none'");
    }
    expect(cspViolations).toEqual([]);
  });
});
