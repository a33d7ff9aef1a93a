// Replicas on PostgreSQL (issue 13): recorded exchanges per second through real scimtap processes, on SQLite (one
// process, its file), on PostgreSQL through one replica, and through two replicas sharing one database (wrk's
// connections split over both proxies, one wrk per replica, their figures summed). One run, interleaved rounds,
// a fresh database and fresh processes for every measurement, so that no configuration inherits another's
// backlog (the PostgreSQL leader derives after the load; a stopped process does not). PostgreSQL runs durable
// (fsync, synchronous commits), as a production server does. The upstream is bench/lib/upstream.ts (fixed
// answers); the request is Entra's PATCH of a user (bench/lib/patch.lua), each on the next of 5,000 users.
//
// "Recorded" counts rows in the operations table once every replica's recorder has flushed (/api/health
// recorder.queued 0): recorded/s = rows / load seconds. "drain s" is how long that flush took after the load:
// a recorder that queues fast and writes slowly shows it there, and as dropped once its queue is full.
// SQLite derives in the recording transaction; the PostgreSQL leader derives after the log write, so "not derived
// yet" (health's derivation lag once the recorders flushed) says how far it was behind, "caught up +s" how long
// it then took to derive the rest. CPU per recorded row, from /proc over the load, the drain and that catch-up
// (so recorded and derived, on both stores): scimtap's processes, of which their main threads (the event loop
// that forwards: one core at most each), and PostgreSQL's (this run's server only).
// The machine is shared: what counts is each figure's ratio to SQLite's in the same run.
//
//   flock /tmp/scimtap-bench.lock npm run bench -- replicas     BENCH_ROUNDS=3 BENCH_SECONDS=8 BENCH_CONNECTIONS=32
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { count } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { pgDatabase } from '../server/store/pg/db.js';
import { createPool } from '../server/store/pg/pool.js';
import { operations as sqliteOperations } from '../server/store/schema/index.js';
import { operations as pgOperations } from '../server/store/schema-pg/index.js';
import { freePort, type PostgresServer, startPostgres } from '../test/helpers/postgres.js';
import { percentile, roundRatios } from './lib/load.js';
import { cpuBetween, threadCpu } from './lib/scimtap-process.js';
import { startBenchUpstream } from './lib/upstream-process.js';

const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const seconds = Number(process.env.BENCH_SECONDS ?? 8);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);
const warmSeconds = 3;
const root = new URL('..', import.meta.url).pathname;
const patchScript = join(root, 'bench/lib/patch.lua');
const run = promisify(execFile);
const log = (line: string) => process.stdout.write(`${line}\n`);
const loadAverage = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

type Setup = 'sqlite' | 'pg1' | 'pg2';
const setups: Setup[] = ['sqlite', 'pg1', 'pg2'];
const labels: Record<Setup, string> = {
  sqlite: 'SQLite, 1 process',
  pg1: 'PostgreSQL, 1 replica',
  pg2: 'PostgreSQL, 2 replicas',
};

interface Replica {
  child: ChildProcess;
  proxyPort: number;
  adminUrl: string;
  exited: Promise<unknown>;
}

/** One scimtap process as production runs it (bin/scimtap.js); ready when its admin API answers. */
async function startScimtap(upstreamPort: number, db: string, replica?: string): Promise<Replica> {
  const proxyPort = await freePort();
  const adminPort = await freePort();
  const child = spawn(process.execPath, ['bin/scimtap.js'], {
    cwd: root,
    env: {
      ...process.env,
      SCIMTAP_UPSTREAM: `http://127.0.0.1:${upstreamPort}`,
      SCIMTAP_LISTEN: `127.0.0.1:${proxyPort}`,
      SCIMTAP_ADMIN_LISTEN: `127.0.0.1:${adminPort}`,
      SCIMTAP_DB: db,
      SCIMTAP_CAPTURE: 'redacted',
      SCIMTAP_LOG_LEVEL: 'warn',
      ...(replica ? { SCIMTAP_REPLICA: replica } : {}),
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  let gone = false;
  const exited = new Promise((resolve) => child.once('exit', resolve)).then(() => {
    gone = true;
  });
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const end = Date.now() + 120_000;
  for (;;) {
    if (gone) throw new Error(`scimtap (${db.split(':')[0]}) exited before answering`);
    try {
      await (await fetch(`${adminUrl}/api/health`)).arrayBuffer();
      return { child, proxyPort, adminUrl, exited };
    } catch {
      if (Date.now() > end) throw new Error('scimtap did not answer within 120 s');
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function stop(r: Replica): Promise<void> {
  if (r.child.exitCode !== null || r.child.signalCode !== null) return;
  r.child.kill('SIGTERM');
  const timer = setTimeout(() => r.child.kill('SIGKILL'), 15_000);
  await r.exited;
  clearTimeout(timer);
}

/** wrk (closed loop) for `secs` on one replica's proxy: req/s, requests, non-2xx and socket errors. */
async function wrk(port: number, secs: number, conns: number) {
  const { stdout } = await run('wrk', [
    ...['-t1', `-c${conns}`, `-d${secs}s`, '-s', patchScript],
    `http://127.0.0.1:${port}/`,
  ]);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
  const socketErrors = socket ? socket.slice(1).reduce((s, n) => s + Number(n), 0) : 0;
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? Number.NaN),
    requests: Number(/(\d+) requests in/.exec(stdout)?.[1] ?? Number.NaN),
    errors: non2xx + socketErrors,
  };
}

/** wrk on every replica at once, `connections` split between them; the figures summed. */
async function load(replicas: Replica[], secs: number) {
  const each = Math.max(1, Math.round(connections / replicas.length));
  const results = await Promise.all(replicas.map((r) => wrk(r.proxyPort, secs, each)));
  return results.reduce((a, b) => ({
    rps: a.rps + b.rps,
    requests: a.requests + b.requests,
    errors: a.errors + b.errors,
  }));
}

interface RecorderHealth {
  queued: number;
  dropped: number;
  /** operations recorded and not derived yet, as this replica reads the store */
  underived: number;
}

async function recorderHealth(r: Replica): Promise<RecorderHealth> {
  const body = (await (await fetch(`${r.adminUrl}/api/health`)).json()) as {
    recorder: RecorderHealth;
    derivation: { operations: number } | null;
  };
  return {
    queued: body.recorder.queued,
    dropped: body.recorder.dropped,
    underived: body.derivation?.operations ?? 0,
  };
}

/** Waits until every replica's recorder has written all it queued; returns the seconds that took and the drops. */
async function flushed(replicas: Replica[]): Promise<{ drainS: number; dropped: number; underived: number }> {
  const started = performance.now();
  const end = Date.now() + 180_000;
  for (;;) {
    const states = await Promise.all(replicas.map(recorderHealth));
    if (states.every((s) => s.queued === 0)) {
      const dropped = states.reduce((n, s) => n + s.dropped, 0);
      // Every replica reads the same log: the first one's figure is the store's.
      return { drainS: (performance.now() - started) / 1000, dropped, underived: states[0]?.underived ?? 0 };
    }
    if (Date.now() > end) throw new Error(`recorders still queue ${JSON.stringify(states)} after 180 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits until the store has derived all it recorded (the PostgreSQL leader behind the log); returns the seconds. */
async function derived(replicas: Replica[]): Promise<number> {
  const started = performance.now();
  const end = Date.now() + 120_000;
  const first = replicas[0] as Replica;
  while ((await recorderHealth(first)).underived > 0) {
    if (Date.now() > end) throw new Error('derivation did not catch up within 120 s');
    await new Promise((r) => setTimeout(r, 50));
  }
  return (performance.now() - started) / 1000;
}

/** Rows in the operations table: the SQLite file (read-only, beside the running process), or PostgreSQL's. */
async function countRows(db: string): Promise<number> {
  if (!db.startsWith('postgres')) {
    const file = new Database(db, { readonly: true });
    try {
      const [row] = drizzle(file).select({ n: count() }).from(sqliteOperations).all();
      return row?.n ?? 0;
    } finally {
      file.close();
    }
  }
  const pool = createPool(db, { max: 1, onError() {} });
  try {
    const [row] = await pgDatabase(pool).select({ n: count() }).from(pgOperations);
    return row?.n ?? 0;
  } finally {
    await pool.end();
  }
}

/** The PostgreSQL server's processes (postmaster, backends, writers): this process's descendants named postgres. */
function postgresPids(): number[] {
  if (!existsSync('/proc')) return [];
  const parent = new Map<number, number>();
  const name = new Map<number, string>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parent.set(Number(entry), Number(fields[1]));
      name.set(Number(entry), stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')));
    } catch {
      // gone between the listing and the read
    }
  }
  const ours = (pid: number): boolean => {
    for (let p = parent.get(pid); p !== undefined && p > 1; p = parent.get(p))
      if (p === process.pid) return true;
    return false;
  };
  return [...parent.keys()].filter((pid) => name.get(pid) === 'postgres' && ours(pid));
}

/** CPU seconds so far of scimtap's processes and of PostgreSQL's (Linux /proc; zeros elsewhere). */
function cpuNow(replicas: Replica[]): { scimtap: Map<number, number>; postgres: Map<number, number> } {
  const all = (pids: (number | undefined)[]) => {
    const m = new Map<number, number>();
    for (const pid of pids) for (const [tid, t] of threadCpu(pid)) m.set(tid, t);
    return m;
  };
  return { scimtap: all(replicas.map((r) => r.child.pid)), postgres: all(postgresPids()) };
}

interface Sample {
  rps: number;
  recordedPerS: number;
  rows: number;
  requests: number;
  errors: number;
  dropped: number;
  drainS: number;
  /** operations recorded and not yet derived once the recorders had flushed (the PostgreSQL leader derives behind) */
  underived: number;
  /** seconds after the flush until derivation caught up */
  deriveS: number;
  /** µs of CPU per recorded row, load and drain: scimtap's processes, PostgreSQL's */
  cpuScimtap: number;
  /** of which scimtap's main threads (each process's event loop) */
  cpuMain: number;
  cpuPostgres: number;
}

interface Context {
  dir: string;
  pg: PostgresServer;
  upstreamPort: number;
}

/** One measurement: a fresh database and processes, a warm-up, the load, the flush, the count; then stop. */
async function measure(setup: Setup, ctx: Context): Promise<Sample> {
  const db =
    setup === 'sqlite'
      ? join(ctx.dir, `bench-${Math.random().toString(36).slice(2)}.db`)
      : await ctx.pg.createDatabase('bench');
  const replicas: Replica[] = [];
  try {
    // One after the other: the first migrates and takes the lead, the second finds both done.
    const names =
      setup === 'pg2' ? ['replica-a', 'replica-b'] : setup === 'pg1' ? ['replica-a'] : [undefined];
    for (const name of names) replicas.push(await startScimtap(ctx.upstreamPort, db, name));
    // Warm up (JIT, keep-alive pools, the first inserts), flushed before the count, so it is not measured.
    await load(replicas, warmSeconds);
    const before = await flushed(replicas);
    await derived(replicas);
    const rowsBefore = await countRows(db);
    const cpuBefore = cpuNow(replicas);
    const w = await load(replicas, seconds);
    const after = await flushed(replicas);
    const deriveS = await derived(replicas);
    const cpuAfter = cpuNow(replicas);
    const rows = (await countRows(db)) - rowsBefore;
    // A process's main thread has the id of the process: Node's event loop, where forwarding happens.
    const mains = new Set(replicas.map((r) => r.child.pid));
    const perRow = (k: 'scimtap' | 'postgres', keep?: (tid: number) => boolean) =>
      (cpuBetween(cpuBefore[k], cpuAfter[k], keep) * 1e6) / rows;
    return {
      rps: w.rps,
      recordedPerS: rows / seconds,
      rows,
      requests: w.requests,
      errors: w.errors,
      dropped: after.dropped - before.dropped,
      drainS: after.drainS,
      underived: after.underived,
      deriveS,
      cpuScimtap: perRow('scimtap'),
      cpuMain: perRow('scimtap', (tid) => mains.has(tid)),
      cpuPostgres: perRow('postgres'),
    };
  } finally {
    await Promise.all(replicas.map(stop));
    if (setup === 'sqlite') for (const f of ['', '-wal', '-shm']) rmSync(`${db}${f}`, { force: true });
  }
}

function report(results: Record<Setup, Sample[]>): void {
  const med = (s: Setup, f: (x: Sample) => number) => percentile(results[s].map(f), 50);
  const base = { rps: med('sqlite', (x) => x.rps), rec: med('sqlite', (x) => x.recordedPerS) };
  log(
    `\nscimtap on replicas: ${rounds} interleaved rounds; wrk ${seconds} s at ${connections} connections in all ` +
      '(split over the replicas); PATCH /scim/v2/Users/<id>, bodies captured (redacted); PostgreSQL durable\n',
  );
  log(
    '| | wrk req/s | × SQLite | recorded/s | × SQLite | rows | dropped | errors | drain s | not derived yet | caught up +s | CPU µs/row scimtap (main thread) + PostgreSQL |',
  );
  log('|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|');
  for (const s of setups) {
    const rps = med(s, (x) => x.rps);
    const rec = med(s, (x) => x.recordedPerS);
    log(
      `| ${labels[s]} | ${rps.toFixed(0)} | ${(rps / base.rps).toFixed(2)} | ${rec.toFixed(0)} | ` +
        `${(rec / base.rec).toFixed(2)} | ${med(s, (x) => x.rows)} | ${med(s, (x) => x.dropped)} | ` +
        `${med(s, (x) => x.errors)} | ${med(s, (x) => x.drainS).toFixed(1)} | ${med(s, (x) => x.underived)} | ` +
        `${med(s, (x) => x.deriveS).toFixed(1)} | ` +
        `${med(s, (x) => x.cpuScimtap).toFixed(0)} (${med(s, (x) => x.cpuMain).toFixed(0)}) + ` +
        `${med(s, (x) => x.cpuPostgres).toFixed(0)} |`,
    );
  }
  log(
    '\n(medians over the rounds; rows, dropped, errors, drain and CPU: per measurement; CPU from /proc over the ' +
      "load, the drain and the catch-up, per row recorded; the host's other tenants share the 2 cores)",
  );
  const rec = (s: Setup) => results[s].map((x) => x.recordedPerS);
  log(roundRatios('recorded/s, 1 replica × SQLite', rec('pg1'), rec('sqlite')));
  log(roundRatios('recorded/s, 2 replicas × SQLite', rec('pg2'), rec('sqlite')));
  log(roundRatios('recorded/s, 2 replicas × 1 replica', rec('pg2'), rec('pg1')));
}

async function main() {
  // Build dist/server once, before any timing, rather than in the first measured process.
  spawnSync(process.execPath, ['bin/scimtap.js', '--help'], { cwd: root, stdio: 'ignore' });
  const dir = mkdtempSync(join(tmpdir(), 'scimtap-bench-replicas-'));
  const pg = await startPostgres({ durable: true });
  const upstream = await startBenchUpstream();
  try {
    log(`machine: ${cpus().length} CPUs, load average ${loadAverage()}`);
    const ctx: Context = { dir, pg, upstreamPort: upstream.port };
    const results: Record<Setup, Sample[]> = { sqlite: [], pg1: [], pg2: [] };
    for (let r = 0; r < rounds; r++) {
      // Rotate the order each round, so that no setup always runs right after the same neighbour.
      for (const s of setups.map((_, i) => setups[(i + r) % setups.length] as Setup)) {
        const x = await measure(s, ctx);
        results[s].push(x);
        log(
          `round ${r + 1} ${labels[s]}: ${x.rps.toFixed(0)} req/s, recorded ${x.recordedPerS.toFixed(0)}/s ` +
            `(${x.rows} rows of ${x.requests} requests), dropped ${x.dropped}, errors ${x.errors}, drained in ${x.drainS.toFixed(1)} s, ${x.underived} not derived yet, ` +
            `derived ${x.deriveS.toFixed(1)} s later`,
        );
      }
    }
    report(results);
    log(`\nload average after: ${loadAverage()}`);
  } finally {
    upstream.child.kill('SIGTERM');
    await pg.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
