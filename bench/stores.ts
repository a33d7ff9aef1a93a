// The admin API on both stores (issue 13): 1,000,000 operations filled into SQLite, copied into a PostgreSQL
// server by `scimtap migrate-store`, then each dashboard request asked of the SQLite store and of the
// PostgreSQL store in turn, interleaved, in this one process (app.request: no socket, so the figures are the
// store, the query and the JSON). The export's rows/s is read the same way, both stores in one run.
// Targets are the SQLite ones (bench/api.ts): p95 < 100 ms, export ≥ 100,000 rows/s.
//
//   node --import tsx bench/stores.ts        ROWS=200000 for a quicker run, RUNS=30 requests per route
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAlertEngine } from '../server/alerts/engine.js';
import { type AdminApi, createAppApi } from '../server/api/index.js';
import { loadConfig } from '../server/config.js';
import { rebuildRollups } from '../server/cycles/rebuild.js';
import { type AdminStore, sqliteAdminStore } from '../server/store/admin-store.js';
import { openDatabase } from '../server/store/db.js';
import { pgAdminStore } from '../server/store/pg/admin-store.js';
import { pgDatabase } from '../server/store/pg/db.js';
import { migrateStore } from '../server/store/pg/migrate-store.js';
import { createPool } from '../server/store/pg/pool.js';
import { idleRecorderStats } from '../server/store/recorder.js';
import { startPostgres } from '../test/helpers/postgres.js';
import { type Facts, operationsRoutes, optionalRoutes, type Route } from './lib/api-routes.js';
import { fillOperations } from './lib/fill.js';

const ROWS = Number(process.env.ROWS ?? 1_000_000);
const RUNS = Number(process.env.RUNS ?? 30);
const targets = { p95Ms: 100, exportRowsPerSec: 100_000 };
const day = 86_400_000;

const log = (line: string) => process.stdout.write(`${line}\n`);
const secs = (since: number) => ((performance.now() - since) / 1000).toFixed(1);
const load = () =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];
}

const dir = mkdtempSync(join(tmpdir(), 'scimtap-bench-stores-'));
const file = join(dir, 'scimtap.db');
const server = await startPostgres();
try {
  log(`machine: ${cpus().length} CPUs, load average ${load()}`);
  const config = loadConfig({ SCIMTAP_UPSTREAM: 'http://127.0.0.1:9', SCIMTAP_DB: file });
  let t = performance.now();
  const end = Date.now() - 60_000;
  const db = openDatabase(file);
  const fill = fillOperations(db, { rows: ROWS, end, bodiesSince: end - 30 * day });
  const rebuilt = rebuildRollups(db, config);
  log(
    `SQLite: ${fill.rows.toLocaleString()} operations, ${rebuilt.cycles} cycles, ${rebuilt.identities} identities in ${secs(t)} s`,
  );
  const facts = factsOf(db, fill);
  db.$client.pragma('wal_checkpoint(TRUNCATE)');

  t = performance.now();
  const url = await server.createDatabase();
  await migrateStore({ from: file, to: url });
  log(`PostgreSQL: copied by migrate-store in ${secs(t)} s`);
  const pool = createPool(url, { max: 10 });

  const apis: Record<'sqlite' | 'postgres', AdminApi> = {
    sqlite: adminApi(sqliteAdminStore(db), db, config),
    postgres: adminApi(pgAdminStore(pgDatabase(pool)), db, config),
  };
  const rows: { name: string; sqlite: number[]; postgres: number[] }[] = [];
  for (const [name, path] of [...operationsRoutes(facts), ...optionalRoutes(facts)] as Route[]) {
    rows.push({ name, ...(await timeBoth(apis, path.replace(/^\/api/, ''))) });
  }
  const exports = { sqlite: [] as number[], postgres: [] as number[] };
  for (let round = 0; round < 2; round++) {
    for (const kind of ['sqlite', 'postgres'] as const) exports[kind].push(await exportRate(apis[kind]));
  }
  report(rows, exports);
  await pool.end();
  db.$client.close();
} finally {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}

function factsOf(db: ReturnType<typeof openDatabase>, fill: ReturnType<typeof fillOperations>): Facts {
  const one = (q: string, ...args: unknown[]) =>
    db.$client
      .prepare(q)
      .pluck()
      .get(...args) as number | undefined;
  return {
    maxId: one('select max(id) from operations') ?? 0,
    lastTime: one('select max(time) from operations') ?? 0,
    midCycle: one('select id from cycles order by id limit 1 offset ?', Math.floor(fill.cycles / 2)),
    someIdentity: one('select id from identities where name = ?', fill.sample.userName),
    sample: fill.sample,
  };
}

/** The admin API over a store; both share one alert engine (its firing incidents are in memory). */
function adminApi(
  store: AdminStore,
  db: ReturnType<typeof openDatabase>,
  config: ReturnType<typeof loadConfig>,
) {
  const alerts = createAlertEngine({
    db,
    config,
    clock: Date.now,
    logger: { info() {}, warn() {}, error() {} },
    recorderStats: idleRecorderStats,
    baseUrl: () => 'http://127.0.0.1:8081',
    sender: null,
  });
  return createAppApi({
    store,
    version: 'bench',
    mode: 'proxy',
    recorderStats: idleRecorderStats,
    upstreamState: () => 'reachable',
    config,
    alerts,
  });
}

/** Two warm-up requests on each store, then RUNS timed ones, alternating store on every request. */
async function timeBoth(apis: Record<'sqlite' | 'postgres', AdminApi>, path: string) {
  const once = async (api: AdminApi) => {
    const started = performance.now();
    const res = await api.request(path);
    const body = await res.text();
    if (res.status !== 200) throw new Error(`${path}: ${res.status} ${body.slice(0, 200)}`);
    return performance.now() - started;
  };
  const ms = { sqlite: [] as number[], postgres: [] as number[] };
  for (let i = 0; i < 2; i++) for (const kind of ['sqlite', 'postgres'] as const) await once(apis[kind]);
  for (let i = 0; i < RUNS; i++) {
    const order = i % 2 ? (['postgres', 'sqlite'] as const) : (['sqlite', 'postgres'] as const);
    for (const kind of order) ms[kind].push(await once(apis[kind]));
  }
  return ms;
}

/** The whole export read as a client reads it; rows per second. */
async function exportRate(api: AdminApi): Promise<number> {
  const started = performance.now();
  const res = await api.request('/export.csv');
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  let lines = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    for (let i = value.indexOf(10); i !== -1; i = value.indexOf(10, i + 1)) lines++;
  }
  return (lines - 1) / ((performance.now() - started) / 1000);
}

function report(
  rows: { name: string; sqlite: number[]; postgres: number[] }[],
  exports: { sqlite: number[]; postgres: number[] },
) {
  const num = (x: number) => x.toFixed(1).padStart(9);
  log('');
  log(
    `${'route'.padEnd(52)}${'SQLite p50'.padStart(11)}${'p95'.padStart(9)}${'PG p50'.padStart(9)}${'p95'.padStart(9)}  PG p95 < ${targets.p95Ms} ms`,
  );
  let over = 0;
  for (const r of rows) {
    const pg95 = percentile(r.postgres, 0.95);
    if (pg95 >= targets.p95Ms) over++;
    log(
      `${r.name.padEnd(52)}  ${num(percentile(r.sqlite, 0.5))}${num(percentile(r.sqlite, 0.95))}${num(percentile(r.postgres, 0.5))}${num(pg95)}  ${pg95 < targets.p95Ms ? 'ok' : 'OVER'}`,
    );
  }
  const worst = (xs: number[]) => Math.round(Math.min(...xs)).toLocaleString();
  const pgExport = Math.min(...exports.postgres);
  if (pgExport < targets.exportRowsPerSec) over++;
  log('');
  log(
    `export.csv rows/s (2 runs each, interleaved, the slower shown): SQLite ${worst(exports.sqlite)}, PostgreSQL ${worst(exports.postgres)} (target ≥ ${targets.exportRowsPerSec.toLocaleString()}) ${pgExport >= targets.exportRowsPerSec ? 'ok' : 'UNDER'}`,
  );
  log(`machine load after: ${load()}`);
  log(over === 0 ? 'PostgreSQL: all within target' : `PostgreSQL: ${over} figure(s) off target`);
  process.exitCode = over === 0 ? 0 : 1;
}
