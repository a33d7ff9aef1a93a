// Dashboard benchmark (issue 6): with 1,000,000 operations recorded, how fast the overview's first meaningful
// render is in real Chromium on loopback, that the tables fetch one page and never everything, and the size of
// the built bundle gzipped. `npm run bench -- dashboard`; ROWS=200000 for a quicker run.
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import pino from 'pino';
import { loadConfig } from '../server/config.js';
import { rebuildRollups } from '../server/cycles/rebuild.js';
import { startScimtap } from '../server/main.js';
import { openDatabase } from '../server/store/db.js';
import { buildDashboard, launchChromium } from '../test/helpers/browser.js';
import { fillOperations } from './lib/fill.js';

const ROWS = Number(process.env.ROWS ?? 1_000_000);
const RUNS = Number(process.env.RUNS ?? 7);
const budget = { firstRenderMs: 1500, bundleGzipKb: 400 };

const dir = mkdtempSync(join(tmpdir(), 'scimtap-bench-dashboard-'));
// DB=path reuses a database filled by an earlier run (filling 1M rows and their rollups takes minutes).
const dbPath = process.env.DB ?? join(dir, 'scimtap.db');
const webRoot = join(dir, 'web');

function log(msg: string) {
  process.stdout.write(`${msg}\n`);
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)];
}

// 1. The bundle: every emitted file gzipped (level 9, as a server or CDN would), summed.
let t = Date.now();
await buildDashboard(webRoot);
const files: { name: string; raw: number; gzip: number }[] = [];
for (const entry of readdirSync(webRoot, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile()) continue;
  const path = join(entry.parentPath, entry.name);
  const bytes = readFileSync(path);
  files.push({
    name: path.slice(webRoot.length + 1),
    raw: statSync(path).size,
    gzip: gzipSync(bytes, { level: 9 }).length,
  });
}
const gzipTotal = files.reduce((a, f) => a + f.gzip, 0);
log(`built in ${Date.now() - t} ms`);
for (const f of files.sort((a, b) => b.gzip - a.gzip))
  log(
    `  ${f.name.padEnd(44)} ${(f.raw / 1024).toFixed(1).padStart(8)} kB  gzip ${(f.gzip / 1024).toFixed(1).padStart(7)} kB`,
  );
log(`bundle: ${(gzipTotal / 1024).toFixed(1)} kB gzipped (budget ${budget.bundleGzipKb} kB)`);

// 2. A database with ROWS operations and their rollups, as months of recording would leave it.
t = Date.now();
const config = loadConfig({
  SCIMTAP_UPSTREAM: 'http://127.0.0.1:9',
  SCIMTAP_LISTEN: '127.0.0.1:0',
  SCIMTAP_ADMIN_LISTEN: '127.0.0.1:0',
  SCIMTAP_DB: dbPath,
  SCIMTAP_APP_NAME: 'Tanium SSO',
});
if (process.env.DB && existsSync(process.env.DB)) {
  log(`reusing ${dbPath}`);
} else {
  const db = openDatabase(dbPath);
  const fill = fillOperations(db, {
    rows: ROWS,
    end: Date.now() - 60_000,
    bodiesSince: Date.now() - 86_400_000,
  });
  log(`filled ${fill.rows.toLocaleString()} operations (${fill.cycles} cycles) in ${Date.now() - t} ms`);
  t = Date.now();
  const r = rebuildRollups(db, config);
  log(`rollups: ${r.cycles} cycles, ${r.identities} identities in ${Date.now() - t} ms`);
  db.$client.close();
}

const scimtap = await startScimtap(config, { logger: pino({ level: 'silent' }), webRoot });
const browser = await launchChromium();

// Records when the overview first shows the state banner and the cycle's progress bar, in ms since navigation
// start (performance.now() is relative to the navigation's time origin). A string: tsx would wrap a function's
// inner functions in helpers that do not exist in the page.
const markRender = `(() => {
  const check = () => {
    if (window.__firstRender !== undefined) return;
    if (document.querySelector('.banner[data-state]') && document.querySelector('[data-testid="cycle-progress"]')) {
      window.__firstRender = performance.now();
    }
  };
  new MutationObserver(check).observe(document, { childList: true, subtree: true });
})()`;

async function measure(path: string, ready: string) {
  // A fresh context each run: empty HTTP cache, like a first visit from an email link.
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  await page.addInitScript({ content: markRender });
  const api: { url: string; bytes: number; items: number | null }[] = [];
  page.on('response', async (res) => {
    if (!res.url().includes('/api/')) return;
    try {
      const body = await res.body();
      let items: number | null = null;
      try {
        const json = JSON.parse(body.toString('utf8')) as { items?: unknown[] };
        items = Array.isArray(json.items) ? json.items.length : null;
      } catch {}
      api.push({ url: new URL(res.url()).pathname + new URL(res.url()).search, bytes: body.length, items });
    } catch {}
  });
  const started = Date.now();
  await page.goto(`${scimtap.adminUrl}${path}`);
  await page.locator(ready).first().waitFor({ timeout: 30_000 });
  const wallMs = Date.now() - started;
  const firstRender = await page.evaluate(
    () => (window as unknown as { __firstRender?: number }).__firstRender ?? null,
  );
  await page.waitForTimeout(300);
  await context.close();
  return { wallMs, firstRender, api };
}

const overview: number[] = [];
for (let i = 0; i < RUNS; i++) {
  const m = await measure('/', '[data-testid="cycle-progress"]');
  if (m.firstRender === null) throw new Error('the overview never showed the banner and the progress bar');
  overview.push(m.firstRender);
  if (i === 0)
    for (const a of m.api)
      log(
        `  overview API ${a.url}: ${(a.bytes / 1024).toFixed(1)} kB${a.items === null ? '' : `, ${a.items} items`}`,
      );
}
// The first run also warms SQLite's page cache; report all runs.
log(
  `overview first meaningful render (navigation start → banner + progress): median ${percentile(overview, 0.5).toFixed(0)} ms, p95 ${percentile(overview, 0.95).toFixed(0)} ms, max ${Math.max(...overview).toFixed(0)} ms, runs ${overview.map((x) => x.toFixed(0)).join(' ')} (budget ${budget.firstRenderMs} ms)`,
);

for (const [path, ready] of [
  ['/operations', 'table tbody tr'],
  ['/operations?status=failure', 'table tbody tr'],
  ['/identities', 'table tbody tr'],
  ['/identities?status=failing', 'table tbody tr, .state-empty'],
  ['/cycles', 'table tbody tr'],
] as const) {
  const m = await measure(path, ready);
  const tables = m.api.filter((a) => a.items !== null && !a.url.startsWith('/api/cycles?limit=60'));
  log(
    `${path}: visible in ${m.wallMs} ms; ${tables.map((a) => `${a.url} → ${a.items} items, ${(a.bytes / 1024).toFixed(1)} kB`).join('; ')}`,
  );
}

// The ops-per-minute chart over the busiest hour there is (the initial cycle), not just the quiet last hour.
{
  const db = openDatabase(dbPath);
  const busiest = db.$client
    .prepare(
      'select (time / 3600000) * 3600000 as hour, count(*) as n from operations group by hour order by n desc limit 1',
    )
    .get() as { hour: number; n: number };
  db.$client.close();
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    const res = await fetch(
      `${scimtap.adminUrl}/api/timeseries/operations?from=${busiest.hour}&to=${busiest.hour + 3_600_000}&bucket=60`,
    );
    await res.json();
    times.push(performance.now() - t0);
  }
  // A cycle's per-object outcomes read only that cycle's operations: the initial cycle is the biggest.
  const outcomeTimes: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    const res = await fetch(`${scimtap.adminUrl}/api/cycles/1/outcomes?limit=50`);
    await res.json();
    outcomeTimes.push(performance.now() - t0);
  }
  log(
    `/api/cycles/1/outcomes (the initial cycle): median ${percentile(outcomeTimes, 0.5).toFixed(0)} ms, max ${Math.max(...outcomeTimes).toFixed(0)} ms`,
  );
  log(
    `/api/timeseries/operations over the busiest hour (${busiest.n.toLocaleString()} operations): median ${percentile(times, 0.5).toFixed(0)} ms, max ${Math.max(...times).toFixed(0)} ms`,
  );
}

await browser.close();
await scimtap.stop();

const ok = percentile(overview, 0.5) < budget.firstRenderMs && gzipTotal / 1024 < budget.bundleGzipKb;
log(ok ? 'within budget' : 'OVER BUDGET');
process.exit(ok ? 0 : 1);
