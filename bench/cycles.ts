// Cycles and identities benchmark (issue 4):
//  1. recording throughput with and without the cycle stage: 100,000 Entra-shaped exchanges through the real
//     ingest path (classify + one transaction per batch), on an empty database and on one already holding
//     1,000,000 operations (the stage's cost per operation must not grow with history);
//  2. rebuild of the rollups from 1,000,000 operations;
//  3. p50/p95 of /api/status, /api/cycles (first and deep pages, one cycle), /api/identities?q=, failing
//     identities and /api/identities/:id with 1,000,000 operations stored (budget: p95 < 100 ms each).
//
//   npm run bench -- cycles            ROWS=200000 EXCHANGES=20000 for a quicker run
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import { onApiError } from '../server/api/errors.js';
import { cycleRoutes } from '../server/api/routes/cycles.js';
import { identityRoutes } from '../server/api/routes/identities.js';
import { statusRoutes } from '../server/api/routes/status.js';
import { loadConfig } from '../server/config.js';
import { createCycleStage } from '../server/cycles/index.js';
import { rebuildRollups } from '../server/cycles/rebuild.js';
import { classify } from '../server/scim/classify.js';
import type { Exchange } from '../server/scim/types.js';
import { sqliteAdminStore } from '../server/store/admin-store.js';
import { type Db, openDatabase } from '../server/store/db.js';
import { createIngest } from '../server/store/ingest.js';
import { entraExchanges } from './lib/entra-exchanges.js';
import { fillOperations } from './lib/fill.js';

const ROWS = Number(process.env.ROWS ?? 1_000_000);
const EXCHANGES = Number(process.env.EXCHANGES ?? 100_000);
const BATCH = Number(process.env.BATCH ?? 500);
const REQUESTS = Number(process.env.REQUESTS ?? 200);
const budgetP95Ms = 100;

const dir = mkdtempSync(join(tmpdir(), 'scimtap-bench-cycles-'));
const log = (msg: string) => process.stdout.write(`${msg}\n`);
const config = (db: string) => loadConfig({ SCIMTAP_DB: db });

function ingestRate(db: Db, batch: Exchange[], withStage: boolean): number {
  const classifyOptions = { capture: 'redacted' as const, redact: ['password'] };
  const stages = withStage ? [createCycleStage({ db, config: config(':memory:') })] : [];
  const write = createIngest({ db, classify: (e) => classify(e, classifyOptions), stages });
  const started = process.hrtime.bigint();
  for (let i = 0; i < batch.length; i += BATCH) write(batch.slice(i, i + BATCH));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return batch.length / seconds;
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)];
}

// 1. Recording throughput, fresh database each time, alternating to even out machine noise.
const traffic = entraExchanges(EXCHANGES, 1);
log(
  `recording ${EXCHANGES.toLocaleString('en-US')} Entra-shaped exchanges (batches of ${BATCH}), real classify:`,
);
const rates: Record<'without' | 'with', number[]> = { without: [], with: [] };
for (let run = 0; run < 3; run++) {
  for (const mode of ['without', 'with'] as const) {
    const path = join(dir, `ingest-${mode}-${run}.db`);
    const db = openDatabase(path);
    rates[mode].push(ingestRate(db, traffic, mode === 'with'));
    db.$client.close();
    rmSync(path, { force: true });
  }
}
const median = (xs: number[]) => percentile(xs, 0.5);
const without = median(rates.without);
const withStage = median(rates.with);
log(`  without the cycle stage  ${Math.round(without).toLocaleString('en-US').padStart(9)} ops/s`);
log(
  `  with the cycle stage     ${Math.round(withStage).toLocaleString('en-US').padStart(9)} ops/s  (${(((without - withStage) / without) * 100).toFixed(1)}% slower, ${(1e6 / withStage - 1e6 / without).toFixed(1)} µs per operation)`,
);

// 2. A database with ROWS operations, then the rollups rebuilt from them.
const bigPath = join(dir, 'big.db');
const big = openDatabase(bigPath);
let t = Date.now();
const fill = fillOperations(big, { rows: ROWS });
log(
  `\nfilled ${fill.rows.toLocaleString('en-US')} operations (${fill.cycles} cycles) in ${((Date.now() - t) / 1000).toFixed(1)} s`,
);
t = Date.now();
const rebuilt = rebuildRollups(big, config(bigPath));
const rebuildSeconds = (Date.now() - t) / 1000;
log(
  `rebuild: ${rebuilt.cycles} cycles, ${rebuilt.identities} identities, ${rebuilt.memberships} memberships in ${rebuildSeconds.toFixed(1)} s (${Math.round(rebuilt.operations / rebuildSeconds).toLocaleString('en-US')} ops/s)`,
);

// 1b. The same on top of that history: the stage's cost per operation must not grow with it.
const later = (years: number) =>
  traffic.map((e) => ({ ...e, startedAt: e.startedAt + years * 365 * 86_400_000 }));
const onHistory = { without: ingestRate(big, later(10), false), with: ingestRate(big, later(20), true) };
log(
  `recording ${EXCHANGES.toLocaleString('en-US')} more on top of ${ROWS.toLocaleString('en-US')} rows: ` +
    `${Math.round(onHistory.without).toLocaleString('en-US')} ops/s without the stage, ` +
    `${Math.round(onHistory.with).toLocaleString('en-US')} ops/s with it`,
);

// 3. The API on the big database, in-process (app.request: no socket, so the figures are the query and JSON work).
const cfg = config(bigPath);
const app = new Hono()
  .onError(onApiError)
  .route(
    '/api/status',
    statusRoutes({ store: sqliteAdminStore(big), config: cfg, firingIncidents: async () => [] }),
  )
  .route('/api/cycles', cycleRoutes({ store: sqliteAdminStore(big), rules: cfg.rules }))
  .route('/api/identities', identityRoutes({ store: sqliteAdminStore(big) }));
const sqlite = big.$client;
const deepCursor = ((await (await app.request('/api/cycles?limit=1000')).json()) as { nextCursor: string })
  .nextCursor;
const someCycle = sqlite.prepare('select id from cycles order by total desc limit 1').pluck().get() as number;
const busiest = sqlite
  .prepare(
    'select identity_id from operations where identity_id is not null group by identity_id order by count(*) desc limit 1',
  )
  .pluck()
  .get() as number;
const userName = fill.sample.userName;
const routes: [string, string][] = [
  ['/api/status', '/api/status'],
  ['/api/cycles', '/api/cycles'],
  ['/api/cycles?limit=1000', '/api/cycles?limit=1000'],
  ['/api/cycles deep page', `/api/cycles?limit=100&cursor=${deepCursor}`],
  ['/api/cycles/:id', `/api/cycles/${someCycle}`],
  ['/api/identities', '/api/identities'],
  ['/api/identities?q= (prefix)', `/api/identities?q=${encodeURIComponent(userName.slice(0, 6))}`],
  ['/api/identities?q= (exact)', `/api/identities?q=${encodeURIComponent(userName)}`],
  ['/api/identities?q= (no match)', '/api/identities?q=zzzz-nobody'],
  ['/api/identities?failing=true', '/api/identities?failing=true'],
  ['/api/identities?status=failure&type=User', '/api/identities?status=failure&type=User'],
  ['/api/identities/:id (busiest)', `/api/identities/${busiest}`],
];
log(
  `\nAPI with ${ROWS.toLocaleString('en-US')} operations (${REQUESTS} requests each, budget p95 < ${budgetP95Ms} ms):`,
);
let over = 0;
for (const [name, path] of routes) {
  const times: number[] = [];
  for (let i = 0; i < REQUESTS; i++) {
    const started = process.hrtime.bigint();
    const res = await app.request(path);
    await res.text();
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
    if (res.status !== 200) throw new Error(`${path}: HTTP ${res.status}`);
  }
  const p95 = percentile(times, 0.95);
  if (p95 >= budgetP95Ms) over++;
  log(
    `  ${name.padEnd(42)} p50 ${percentile(times, 0.5).toFixed(2).padStart(7)} ms   p95 ${p95.toFixed(2).padStart(7)} ms${p95 >= budgetP95Ms ? '  OVER BUDGET' : ''}`,
  );
}
big.$client.close();
rmSync(dir, { recursive: true, force: true });
process.exit(over ? 1 : 0);
