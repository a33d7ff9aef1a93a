// Admin API benchmark (issue 4): with 1,000,000 operations recorded (about six months of a 5,000-user tenant),
// the p50/p95 of /api/operations (no filter, each filter, a deep cursor page ~900k rows in), of the other
// dashboard routes that exist, and the CSV export's rows/s and peak RSS. scimtap runs in a child process (as in
// production) so that its RSS is its own; this process fills the database and is the HTTP client.
//
//   node --import tsx bench/api.ts            ROWS=200000 for a quicker run, RUNS=30 requests per route
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadConfig } from '../server/config.js';
import { openDatabase } from '../server/store/db.js';
import { type Facts, operationsRoutes, optionalRoutes } from './lib/api-routes.js';
import { fillOperations } from './lib/fill.js';

const ROWS = Number(process.env.ROWS ?? 1_000_000);
const RUNS = Number(process.env.RUNS ?? 30);
const targets = { p95Ms: 100, exportRowsPerSec: 100_000, exportRssMb: 300 };
const day = 86_400_000;

function envFor(dbPath: string): Record<string, string> {
  return {
    SCIMTAP_UPSTREAM: 'http://127.0.0.1:9',
    SCIMTAP_LISTEN: '127.0.0.1:0',
    SCIMTAP_ADMIN_LISTEN: '127.0.0.1:0',
    SCIMTAP_DB: dbPath,
    SCIMTAP_APP_NAME: 'Tanium SSO',
  };
}

if (process.argv[2] === '--serve') {
  // Child role: a real scimtap over the filled database. No periodic jobs: retention would start pruning the
  // months-old half of the data in the middle of the measurements.
  const { startScimtap } = await import('../server/main.js');
  const scimtap = await startScimtap(loadConfig(envFor(process.argv[3])), {
    logger: pino({ level: 'silent' }),
    periodicJobs: false,
  });
  process.stdout.write(`${JSON.stringify({ adminUrl: scimtap.adminUrl })}\n`);
  process.on('SIGTERM', () => void scimtap.stop().then(() => process.exit(0)));
} else {
  await main();
}

function log(line: string) {
  process.stdout.write(`${line}\n`);
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];
}

/** VmRSS / VmHWM (peak) of a process in MB, and its CPU seconds, from /proc (Linux). */
function procStats(pid: number): { rssMb: number; peakMb: number; cpuSec: number } | null {
  if (!existsSync(`/proc/${pid}/status`)) return null;
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024, cpuSec: ticks / 100 };
}

async function startChild(dbPath: string): Promise<{ child: ChildProcess; adminUrl: string }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', new URL(import.meta.url).pathname, '--serve', dbPath],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const adminUrl = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d;
      const m = /\{"adminUrl":"[^"]+"\}/.exec(out);
      if (m) resolve((JSON.parse(m[0]) as { adminUrl: string }).adminUrl);
    });
    child.once('exit', (code) => reject(new Error(`scimtap exited with ${code} before listening`)));
  });
  return { child, adminUrl };
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'scimtap-bench-api-'));
  const dbPath = join(dir, 'scimtap.db');
  log(
    `machine: ${cpus().length} CPUs, load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );

  // 1. Six months of a 5,000-user tenant, inserted directly, then the cycle and identity rollups rebuilt from it.
  let t = Date.now();
  const end = Date.now() - 60_000;
  const db = openDatabase(dbPath);
  const fill = fillOperations(db, { rows: ROWS, end, bodiesSince: end - 30 * day });
  log(
    `filled ${fill.rows.toLocaleString()} operations over ${fill.cycles} cycles (${fill.bodies.toLocaleString()} with bodies) in ${((Date.now() - t) / 1000).toFixed(1)} s`,
  );
  let rollups = 'no cycles/identities rollups (server/cycles/rebuild.ts not found)';
  try {
    const { rebuildRollups } = await import('../server/cycles/rebuild.js');
    t = Date.now();
    const r = rebuildRollups(db, loadConfig(envFor(dbPath)));
    rollups = `rollups: ${r.cycles} cycles, ${r.identities} identities rebuilt in ${((Date.now() - t) / 1000).toFixed(1)} s`;
  } catch (err) {
    rollups += `: ${(err as Error).message}`;
  }
  log(rollups);
  const sqlite = db.$client;
  const maxId = sqlite.prepare('select max(id) from operations').pluck().get() as number;
  const lastTime = sqlite.prepare('select max(time) from operations').pluck().get() as number;
  const midCycle = sqlite
    .prepare('select id from cycles order by id limit 1 offset ?')
    .pluck()
    .get(Math.floor(fill.cycles / 2)) as number | undefined;
  const someIdentity = sqlite
    .prepare('select id from identities where name = ?')
    .pluck()
    .get(fill.sample.userName) as number | undefined;
  sqlite.pragma('wal_checkpoint(TRUNCATE)');
  sqlite.close();

  const { child, adminUrl } = await startChild(dbPath);
  try {
    await run(child, adminUrl, { maxId, lastTime, midCycle, someIdentity, sample: fill.sample });
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Timing {
  name: string;
  p50: number;
  p95: number;
  note: string;
}

async function run(child: ChildProcess, adminUrl: string, f: Facts) {
  const rows: Timing[] = [];
  for (const [name, path] of operationsRoutes(f)) rows.push(await time(adminUrl, name, path));
  // The other engineers' routes, when they exist.
  for (const [name, path] of optionalRoutes(f)) {
    const probe = await fetch(`${adminUrl}${path}`);
    await probe.arrayBuffer();
    if (probe.status === 404) {
      log(`(skipped ${path}: not there)`);
      continue;
    }
    rows.push(await time(adminUrl, name, path));
  }
  report(rows, await measureExport(adminUrl, child.pid!));
}

/** Two warm-up requests, then RUNS timed ones. */
async function time(adminUrl: string, name: string, path: string): Promise<Timing> {
  const once = async () => {
    const started = performance.now();
    const res = await fetch(`${adminUrl}${path}`);
    const body = await res.text();
    if (res.status !== 200) throw new Error(`${path}: ${res.status} ${body.slice(0, 200)}`);
    return { ms: performance.now() - started, body };
  };
  await once();
  const { body } = await once();
  const ms: number[] = [];
  for (let i = 0; i < RUNS; i++) ms.push((await once()).ms);
  let note = '';
  try {
    const json = JSON.parse(body) as { items?: unknown[] };
    if (Array.isArray(json.items)) note = `${json.items.length} items`;
  } catch {}
  return { name, p50: percentile(ms, 0.5), p95: percentile(ms, 0.95), note };
}

/** The export: every row, read as a client would, while the server's RSS is sampled. */
async function measureExport(adminUrl: string, pid: number) {
  const before = procStats(pid);
  let peakRss = before?.rssMb ?? 0;
  const sampler = setInterval(() => {
    const s = procStats(pid);
    if (s) peakRss = Math.max(peakRss, s.rssMb);
  }, 20);
  const started = performance.now();
  const res = await fetch(`${adminUrl}/api/export.csv`);
  const reader = res.body!.getReader();
  let bytes = 0;
  let lines = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    bytes += value.length;
    for (let i = value.indexOf(10); i !== -1; i = value.indexOf(10, i + 1)) lines++;
  }
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  const after = procStats(pid);
  const exported = lines - 1;
  const cpu = before && after ? after.cpuSec - before.cpuSec : Number.NaN;
  return { before, after, peakRss, bytes, seconds, exported, cpu };
}

function report(rows: Timing[], e: Awaited<ReturnType<typeof measureExport>>) {
  const { before, after, peakRss, bytes, seconds, exported, cpu } = e;
  const pad = (s: string, n: number) => s.padEnd(n);
  const num = (x: number) => x.toFixed(1).padStart(8);
  log('');
  log(`${pad('route', 52)}${'p50 ms'.padStart(8)}${'p95 ms'.padStart(8)}  target      `);
  let failures = 0;
  for (const r of rows) {
    const ok = r.p95 < targets.p95Ms;
    if (!ok) failures++;
    log(
      `${pad(r.name, 52)}${num(r.p50)}${num(r.p95)}  p95 < ${targets.p95Ms} ${ok ? 'ok  ' : 'OVER'} ${r.note}`,
    );
  }
  const rowsPerSec = exported / seconds;
  const exportOk = rowsPerSec >= targets.exportRowsPerSec;
  const rssOk = peakRss < targets.exportRssMb;
  if (!exportOk) failures++;
  if (!rssOk) failures++;
  log('');
  log(
    `export.csv: ${exported.toLocaleString()} rows, ${(bytes / 1e6).toFixed(0)} MB in ${seconds.toFixed(1)} s = ${Math.round(rowsPerSec).toLocaleString()} rows/s (target ≥ ${targets.exportRowsPerSec.toLocaleString()}) ${exportOk ? 'ok' : 'UNDER'}`,
  );
  log(
    `           server CPU ${cpu.toFixed(1)} s = ${Math.round(exported / cpu).toLocaleString()} rows per CPU-second (what one idle core would do)`,
  );
  log(
    `           server RSS ${before?.rssMb.toFixed(0)} MB before, peak ${peakRss.toFixed(0)} MB during (target < ${targets.exportRssMb} MB) ${rssOk ? 'ok' : 'OVER'}; process peak ever ${after?.peakMb.toFixed(0)} MB`,
  );
  log(
    `machine load after: ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  log(failures === 0 ? 'all within target' : `${failures} figure(s) off target`);
  process.exitCode = failures === 0 ? 0 : 1;
}
