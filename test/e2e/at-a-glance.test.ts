import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Config, loadConfig } from '../../server/config.js';
import { type Demo, startDemo } from '../../server/demo/index.js';
import { type CycleRisk, cycleRisk } from '../../server/detect/risk.js';
import { chartColors } from '../../web/src/components/chart-card.js';
import { toFailureRate } from '../../web/src/features/overview/cycle-charts.js';
import type { Cycle, Identity, Incident, Status } from '../../web/src/types/api.js';
import { buildDashboard, launchChromium, openPage as openBrowserPage } from '../helpers/browser.js';

// What on-call reads at a glance must be true (issue 16). The demo's whole story (token expiry, a refused probe,
// 409s, 500s, 429s) is recorded into a fresh database, then every kind of page is walked in Chromium:
//   - every HTTP status and error code the page shows sits inside an element naming its operation
//     (data-operation-id), and both belong to that operation, as /api/operations/:id says;
//   - every cycle's marker (row edge, card edge, chart bar) is the risk computed from the API's counts.

interface OperationView {
  id: number;
  httpStatus: number | null;
  errorCode: string | null;
  status: string;
}

let browser: Browser;
let demo: Demo;
let config: Config;
let base: string;
const operations = new Map<number, OperationView>();

async function api<T>(path: string): Promise<T> {
  const res = await fetch(`${base}${path}`);
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

async function operation(id: number): Promise<OperationView> {
  let op = operations.get(id);
  if (!op) {
    op = await api<OperationView>(`/api/operations/${id}`);
    operations.set(id, op);
  }
  return op;
}

function openPage(path: string): Promise<{ page: Page; errors: string[] }> {
  return openBrowserPage(browser, `${base}${path}`);
}

interface Claim {
  id: number;
  attrHttp: string | null;
  attrCode: string | null;
  /** the .http and .error-code texts whose nearest operation is this element */
  shownHttp: string[];
  shownCodes: string[];
  html: string;
}

/**
 * Every status code and error code on the page belongs to the operation its element names. Returns how many
 * operations were checked, so a walk that found nothing to check fails too.
 */
async function checkShownAnswers(page: Page, where: string): Promise<number> {
  const { claims, loose } = await page.evaluate(() => {
    const claims = [...document.querySelectorAll('[data-operation-id]')].map((e) => {
      const mine = (sel: string) =>
        [...e.querySelectorAll(sel)]
          .filter((x) => x.closest('[data-operation-id]') === e)
          .map((x) => (x.textContent ?? '').trim());
      return {
        id: Number(e.getAttribute('data-operation-id')),
        attrHttp: e.getAttribute('data-http-status'),
        attrCode: e.getAttribute('data-error-code'),
        shownHttp: mine('.http'),
        shownCodes: mine('.error-code'),
        html: e.outerHTML.slice(0, 300),
      };
    });
    // a status or a code shown with no operation to answer for it
    const loose = [...document.querySelectorAll('.http, .error-code, .error-reason')]
      .filter((e) => !e.closest('[data-operation-id]'))
      .map((e) => e.outerHTML.slice(0, 300));
    return { claims, loose };
  });
  expect(loose, `${where}: statuses or codes not tied to an operation`).toEqual([]);
  for (const c of claims as Claim[]) {
    const op = await operation(c.id);
    const http = op.httpStatus === null ? 'none' : String(op.httpStatus);
    const what = `${where}: operation ${c.id} (HTTP ${http} ${op.errorCode}) shown as ${c.html}`;
    for (const shown of c.shownHttp) expect(shown, what).toBe(http);
    for (const shown of c.shownCodes) expect(shown, what).toBe(op.errorCode);
    if (c.attrHttp !== null) expect(c.attrHttp, what).toBe(String(op.httpStatus));
    if (c.attrCode !== null) expect(c.attrCode, what).toBe(op.errorCode);
  }
  return claims.length;
}

const riskOf = (c: Cycle): CycleRisk =>
  cycleRisk(
    {
      total: c.total,
      failures: c.failures,
      probeFailed: c.probe?.status === 'failure',
      authFailures: c.authFailures,
      complianceFailures: c.complianceFailures,
    },
    config.rules,
  );

/** The edge colours of styles.css (light scheme): --bad, --warn */
const edge: Record<CycleRisk, RegExp> = {
  quarantine: /rgb\(180, 35, 24\)/,
  failures: /rgb\(138, 90, 0\)/,
  clean: /^none$/,
};

let cycles: Cycle[];

beforeAll(async () => {
  browser = await launchChromium();
  const webRoot = mkdtempSync(join(tmpdir(), 'scimtap-web-'));
  await buildDashboard(webRoot);
  config = loadConfig({
    SCIMTAP_LISTEN: '127.0.0.1:0',
    SCIMTAP_ADMIN_LISTEN: '127.0.0.1:0',
    SCIMTAP_DB: join(mkdtempSync(join(tmpdir(), 'scimtap-glance-')), 'demo.db'),
  });
  let reached: () => void = () => {};
  const tenCycles = new Promise<void>((resolve) => {
    reached = resolve;
  });
  demo = await startDemo(config, {
    logger: pino({ level: 'silent' }),
    webRoot,
    // Tanium alone: these pages are one app's, at the dashboard's root (the fleet page is another test's).
    apps: { 'contoso-expenses': false, 'fabrikam-hr': false },
    // the whole story (10 chapters) in a few seconds
    intervalMs: 40,
    users: 60,
    groups: 3,
    membersPerGroup: 5,
    rate: 0,
    onCycle(info) {
      if (info.phase === 'end' && info.cycle >= 10) reached();
    },
  });
  base = demo.scimtap.adminUrl;
  await tenCycles;
  // a still database: what the pages show and what the API says must be the same moment
  demo.simulator.stop();
  await demo.done;
  demo.scimtap.recorder.flush();
  cycles = (await api<{ items: Cycle[] }>('/api/cycles?limit=1000')).items;
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await demo?.stop();
});

describe('users & groups', () => {
  it('never pairs one operation’s status with another’s error, and dims a failure a later call overcame', async () => {
    // the bug showed on rows whose last call succeeded: "201 Unauthorized"
    for (const path of ['/identities', '/identities?status=success', '/identities?status=failing']) {
      const { page, errors } = await openPage(path);
      await page.locator('table tbody tr').first().waitFor();
      expect(await checkShownAnswers(page, path)).toBeGreaterThan(0);
      const rows = await page.$$eval('table tbody tr', (trs) =>
        trs.map((tr) => ({
          outcome: Number(tr.querySelector('.last-outcome')?.getAttribute('data-operation-id')),
          failure: tr.querySelector('.error-reason')?.getAttribute('data-operation-id') ?? null,
          past: tr.querySelector('.error-reason')?.classList.contains('is-past') ?? null,
          name: tr.querySelector('th')?.textContent,
        })),
      );
      for (const r of rows) {
        if (r.failure === null) continue;
        // past exactly when the last failure is not the last operation
        expect(r.past, `${path}: ${r.name}`).toBe(Number(r.failure) !== r.outcome);
      }
      if (path.includes('success')) {
        // every failure on a row whose last call succeeded is a past one, and there are some (cycle 4's 401s)
        expect(rows.every((r) => r.failure === null || r.past)).toBe(true);
        expect(rows.some((r) => r.past)).toBe(true);
      }
      expect(errors).toEqual([]);
      await page.close();
    }
  }, 120_000);

  it('keeps the identity page’s last outcome and last failure apart', async () => {
    const all = (await api<{ items: Identity[] }>('/api/identities?limit=1000')).items;
    const pastFailure = all.filter((i) => i.lastFailure?.past).slice(0, 3);
    const failing = all.filter((i) => i.lastFailure && !i.lastFailure.past).slice(0, 2);
    const clean = all.filter((i) => !i.lastFailure).slice(0, 1);
    expect(pastFailure.length).toBeGreaterThan(0);
    expect(failing.length).toBeGreaterThan(0);
    for (const i of [...pastFailure, ...failing, ...clean]) {
      const { page, errors } = await openPage(`/identities/${i.id}`);
      await page.getByRole('heading', { name: 'Timeline' }).waitFor();
      await page.locator('table tbody tr[data-operation-id]').first().waitFor();
      if (failing.includes(i)) await page.locator('.op-detail').first().waitFor();
      await checkShownAnswers(page, `/identities/${i.id}`);
      const outcome = page.locator('.facts .last-outcome');
      expect(await outcome.getAttribute('data-operation-id')).toBe(String(i.lastOperationId));
      const failure = page.locator('.facts .error-reason');
      if (i.lastFailure) {
        expect(await failure.getAttribute('data-operation-id')).toBe(String(i.lastFailure.operationId));
        expect(await failure.evaluate((e) => e.classList.contains('is-past'))).toBe(i.lastFailure.past);
        expect(await failure.innerText()).toContain(`cycle #${i.lastFailure.cycleId}`);
      } else {
        expect(await failure.count()).toBe(0);
      }
      // the summary's "what to do" note is for a current failure only (the timeline's open row has its own)
      const notes = await page.$$eval('.explain', (es) => es.filter((e) => !e.closest('.op-detail')).length);
      expect(notes).toBe(i.lastFailure && !i.lastFailure.past ? 1 : 0);
      expect(errors).toEqual([]);
      await page.close();
    }
  }, 120_000);
});

describe('cycles', () => {
  it('has the story’s cycles, some toward quarantine and some with failures only', () => {
    const risks = new Set(cycles.map(riskOf));
    // cycle 4's 401s and cycle 5's refused probe; the 409s, 500s and 429s of the others
    expect(risks).toContain('quarantine');
    expect(risks).toContain('failures');
    // the API's own risk is the function of its counts
    for (const c of cycles) expect(c.risk, `cycle ${c.id}`).toBe(riskOf(c));
  });

  it('marks each row of the cycle list by its risk: red, amber or no edge', async () => {
    const { page, errors } = await openPage('/cycles');
    await page.locator('table tbody tr').first().waitFor();
    const rows = await page.$$eval('table tbody tr', (trs) =>
      trs.map((tr) => ({
        id: Number(tr.getAttribute('data-cycle-id')),
        risk: tr.getAttribute('data-risk'),
        edge: getComputedStyle(tr.firstElementChild as Element).boxShadow,
      })),
    );
    const shown = cycles.slice(0, 50);
    expect(rows.map((r) => r.id)).toEqual(shown.map((c) => c.id));
    for (const [i, r] of rows.entries()) {
      const expected = riskOf(shown[i]);
      expect(r.risk, `cycle ${r.id}`).toBe(expected);
      expect(r.edge, `cycle ${r.id}`).toMatch(edge[expected]);
    }
    await checkShownAnswers(page, '/cycles');
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  it('marks each cycle page by its risk, and ties its outcomes and operations to their answers', async () => {
    for (const c of cycles) {
      const { page, errors } = await openPage(`/cycles/${c.id}`);
      const summary = page.locator('.cycle-summary');
      await summary.waitFor();
      expect(await summary.getAttribute('data-risk'), `cycle ${c.id}`).toBe(riskOf(c));
      const edgeColour = await summary.evaluate((e) => getComputedStyle(e).borderLeftColor);
      if (riskOf(c) === 'quarantine') expect(edgeColour).toMatch(edge.quarantine);
      if (riskOf(c) === 'failures') expect(edgeColour).toMatch(edge.failures);
      await page.getByRole('heading', { name: 'Per-object outcomes' }).waitFor();
      await page.locator('.table-block table, .table-block .empty, .empty').first().waitFor();
      if (c.usersTouched + c.groupsTouched > 0) {
        await page.locator('section[aria-labelledby="outcomes-title"] tbody tr').first().waitFor();
      }
      if (c.total > 0) await page.locator('tr[data-operation-id]').first().waitFor();
      expect(await checkShownAnswers(page, `/cycles/${c.id}`)).toBeGreaterThan(0);
      expect(errors).toEqual([]);
      await page.close();
    }
  }, 180_000);
});

describe('overview', () => {
  it('marks the cycle card and the failure-rate bars on the same scale', async () => {
    const { page, errors } = await openPage('/');
    const card = page.locator('.cycle-card');
    await card.waitFor();
    const status = await api<Status>('/api/status');
    const cycle = status.cycle as Cycle;
    expect(await card.getAttribute('data-cycle-id')).toBe(String(cycle.id));
    expect(await card.getAttribute('data-risk')).toBe(riskOf(cycle));
    const points = toFailureRate(cycles);
    const chart = page.locator('.card', {
      has: page.getByRole('heading', { name: 'Failure rate per cycle' }),
    });
    await chart.locator('.recharts-bar-rectangle').first().waitFor();
    // one rectangle per point, oldest first; a 0% bar may draw no path
    const fills = await chart
      .locator('.recharts-bar-rectangle')
      .evaluateAll((gs) => gs.map((g) => g.querySelector('path')?.getAttribute('fill') ?? null));
    expect(fills).toHaveLength(points.length);
    const colour = {
      quarantine: chartColors.failure,
      failures: chartColors.warning,
      clean: chartColors.success,
    };
    const byId = new Map(cycles.map((c) => [c.id, c]));
    for (const [i, fill] of fills.entries()) {
      const c = byId.get(points[i].cycleId) as Cycle;
      if (fill !== null) expect(fill, `bar of cycle ${c.id}`).toBe(colour[riskOf(c)]);
    }
    expect(fills).toContain(chartColors.failure);
    await checkShownAnswers(page, '/');
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);
});

describe('incidents', () => {
  it('ties every sample request’s status and code to its operation', async () => {
    const { page, errors } = await openPage('/incidents');
    await page
      .getByRole('heading', { name: /Incidents/ })
      .first()
      .waitFor();
    await checkShownAnswers(page, '/incidents');
    await page.close();
    const incidents = [...(await api<{ items: Incident[] }>('/api/incidents?limit=1000')).items].slice(0, 8);
    expect(incidents.length).toBeGreaterThan(0);
    let checked = 0;
    for (const incident of incidents) {
      const opened = await openPage(`/incidents/${incident.id}`);
      await opened.page.locator('h1').first().waitFor();
      await opened.page.getByRole('heading', { name: 'Evidence' }).first().waitFor();
      checked += await checkShownAnswers(opened.page, `/incidents/${incident.id}`);
      expect(opened.errors).toEqual([]);
      await opened.page.close();
    }
    // the credentials incident shows the 401s it is about
    expect(checked).toBeGreaterThan(0);
    expect(errors).toEqual([]);
  }, 120_000);
});
