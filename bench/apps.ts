// Many-apps benchmark (issue 14): recorded req/s with 1 app and with 20 apps sharing the same load, measured in
// the same run in interleaved rounds on loopback. One scimtap process per configuration (`node bin/scimtap.js`,
// an `apps` list of 1 and of 20, every app on the same trivial upstream); wrk sends GET lookups and POST creates
// spread round-robin over the apps' prefixes (bench/lib/apps.lua). Target: 20 apps' req/s within 10% of 1 app's.
// Every exchange must be recorded (each app's own database) or counted as dropped (/api/health?app=<id>).
// The RSS and threads of each process say what 19 more pipelines cost (their log writers share one thread).
//
// BENCH_ROUNDS, BENCH_SECONDS, BENCH_CONNECTIONS tune it, as for bench/proxy.ts.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { appDbPath } from '../server/config/apps.js';
import { percentile, roundRatios } from './lib/load.js';
import { freePorts } from './lib/ports.js';
import {
  type BenchApp,
  cpuBetween,
  memory,
  type ScimtapProcess,
  startScimtapProcess,
  threadCpu,
} from './lib/scimtap-process.js';
import { startBenchUpstream } from './lib/upstream-process.js';

const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);
const APPS = 20;
const root = new URL('..', import.meta.url).pathname;
const run = promisify(execFile);

type Name = 'one' | 'twenty';
type Kind = 'get' | 'post';
const names: Name[] = ['one', 'twenty'];
const kinds: Kind[] = ['get', 'post'];
const label: Record<Name, string> = { one: '1 app', twenty: `${APPS} apps` };

interface Setup {
  name: Name;
  apps: BenchApp[];
  db: string;
  scimtap: ScimtapProcess;
  idle: ReturnType<typeof memory>;
  /** % of one core used with no traffic (timers, the log writer and checkpointer threads) */
  idleCpu?: number;
}

/** µs of CPU per request under wrk: scimtap's main thread, its other threads (the log writer, the checkpointer, V8), the upstream. */
interface CpuShare {
  main: number;
  others: number;
  upstream: number;
}

interface Sample {
  rps: number[];
  cpu: CpuShare[];
}

/** What wrk sent over the whole run (warm-ups included), to hold against what was recorded. */
const sent = { one: 0, twenty: 0, runs: { one: 0, twenty: 0 }, errors: [] as string[] };

/** wrk for `secs` against one configuration, requests spread over its apps; counts what it sent. */
async function wrk(s: Setup, kind: Kind, secs: number): Promise<{ rps: number; requests: number }> {
  const script = join(root, 'bench/lib/apps.lua');
  const { stdout } = await run('wrk', [
    '-t1',
    `-c${connections}`,
    `-d${secs}s`,
    '-s',
    script,
    s.scimtap.proxyUrl,
    '--',
    String(s.apps.length),
    kind,
  ]);
  const errors = /Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)/.exec(stdout);
  if (errors) sent.errors.push(`${label[s.name]} ${kind}: ${errors[0]}`);
  const requests = Number(/(\d+) requests in/.exec(stdout)?.[1] ?? Number.NaN);
  sent[s.name] += requests;
  sent.runs[s.name]++;
  return { rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? Number.NaN), requests };
}

/** Interleaved rounds (the order rotates each round): wrk's req/s and the CPU per request, per setup and kind. */
async function measure(setups: Setup[], upstreamPid: number): Promise<Record<Name, Record<Kind, Sample>>> {
  const results = {} as Record<Name, Record<Kind, Sample>>;
  for (const n of names) results[n] = { get: { rps: [], cpu: [] }, post: { rps: [], cpu: [] } };
  // Warm up (JIT, keep-alive pools to the upstream, every app's statements) before measuring.
  for (const s of setups) for (const k of kinds) await wrk(s, k, 1);
  for (let r = 0; r < rounds; r++) {
    const order = setups.map((_, i) => setups[(i + r) % setups.length]);
    for (const s of order) {
      for (const k of kinds) {
        const pid = s.scimtap.pid;
        const before = threadCpu(pid);
        const upstreamBefore = threadCpu(upstreamPid);
        const { rps, requests } = await wrk(s, k, seconds);
        results[s.name][k].rps.push(rps);
        const after = threadCpu(pid);
        if (before.size > 0) {
          const perRequest = (cpuSeconds: number) => (cpuSeconds * 1e6) / requests;
          results[s.name][k].cpu.push({
            main: perRequest(cpuBetween(before, after, (tid) => tid === pid)),
            others: perRequest(cpuBetween(before, after, (tid) => tid !== pid)),
            upstream: perRequest(cpuBetween(upstreamBefore, threadCpu(upstreamPid))),
          });
        }
        // Let recording catch up after the burst, so that no run starts behind the previous one's backlog.
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
    process.stdout.write(`round ${r + 1}/${rounds} done\n`);
  }
  return results;
}

/** CPU used with no traffic, both processes side by side for 5 s, after 2 s to settle from startup. */
async function idleCpu(setups: Setup[]): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  const before = setups.map((s) => threadCpu(s.scimtap.pid));
  await new Promise((resolve) => setTimeout(resolve, 5_000));
  for (const [i, s] of setups.entries()) {
    const after = threadCpu(s.scimtap.pid);
    if (after.size > 0) s.idleCpu = (cpuBetween(before[i], after) / 5) * 100;
  }
}

/** Dropped exchanges per app, from each app's /api/health; read before stopping (the counter is the run's). */
async function droppedOf(s: Setup): Promise<number[]> {
  return Promise.all(
    s.apps.map(async (a) => {
      const health = (await (await fetch(`${s.scimtap.adminUrl}/api/health?app=${a.id}`)).json()) as {
        recorder?: { dropped?: number };
      };
      return health.recorder?.dropped ?? Number.NaN;
    }),
  );
}

/** Operations in each app's database, read after scimtap stopped (stopping flushes the recorder). */
function recordedOf(s: Setup): number[] {
  return s.apps.map((a) => {
    const path = s.apps.length > 1 ? appDbPath(s.db, a.id) : s.db;
    const db = new Database(path, { readonly: true });
    try {
      return db.prepare('select count(*) from operations').pluck().get() as number;
    } finally {
      db.close();
    }
  });
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'scimtap-bench-apps-'));
  const upstream = await startBenchUpstream();
  const apps: BenchApp[] = Array.from({ length: APPS }, (_, i) => ({
    id: `app-${String(i).padStart(2, '0')}`,
    name: `SaaS app ${String(i).padStart(2, '0')}`,
    upstream: `http://127.0.0.1:${upstream.port}`,
  }));
  const port = await freePorts(2 * names.length);
  const setups: Setup[] = [];
  try {
    // One after the other: the first start may build dist/server, which the second then uses.
    for (const [i, name] of names.entries()) {
      const own = name === 'one' ? apps.slice(0, 1) : apps;
      const db = join(dir, `${name}.db`);
      const scimtap = await startScimtapProcess({ dir, name, apps: own, db, port: port + 2 * i });
      setups.push({ name, apps: own, db, scimtap, idle: memory(scimtap.pid) });
    }
    await idleCpu(setups);
    const results = await measure(setups, upstream.child.pid!);
    const loaded = setups.map((s) => memory(s.scimtap.pid));
    const dropped = await Promise.all(setups.map(droppedOf));
    for (const s of setups) await s.scimtap.stop();
    const recorded = setups.map(recordedOf);
    report(results);
    accounting(setups, recorded, dropped);
    memoryReport(setups, loaded);
  } finally {
    for (const s of setups) await s.scimtap.stop();
    upstream.child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

function report(results: Record<Name, Record<Kind, Sample>>): void {
  const median = (v: number[]) => percentile(v, 50);
  console.log(
    `\nscimtap many-apps benchmark — ${rounds} interleaved rounds; wrk ${seconds} s at ${connections} connections, ` +
      `requests round-robin over the apps' prefixes; one process per configuration; loopback, bodies captured (redacted)\n`,
  );
  console.log('| | kind | req/s (median) | × 1 app | req/s each round |');
  console.log('|---|---|--:|--:|---|');
  const verdicts: string[] = [];
  for (const k of kinds) {
    const base = median(results.one[k].rps);
    for (const n of names) {
      const rps = results[n][k].rps;
      console.log(
        `| ${label[n]} | ${k.toUpperCase()} | ${median(rps).toFixed(0)} | ${(median(rps) / base).toFixed(2)} | ` +
          `${rps.map((x) => x.toFixed(0)).join(', ')} |`,
      );
    }
    const ratio = median(results.twenty[k].rps) / base;
    verdicts.push(
      roundRatios(`${k.toUpperCase()} ${APPS} apps × 1 app`, results.twenty[k].rps, results.one[k].rps),
      `${k.toUpperCase()}: ${APPS} apps at ${ratio.toFixed(2)}× 1 app's req/s ` +
        `(target: no more than 10% apart: ${Math.abs(ratio - 1) <= 0.1 ? 'met' : 'NOT met'})`,
    );
  }
  console.log(`\n${verdicts.join('\n')}`);
  if (results.one.get.cpu.length === 0) return;
  console.log('\nCPU per request under wrk (µs, median of rounds; /proc per thread)\n');
  console.log('| | kind | scimtap main thread | scimtap other threads | upstream | total |');
  console.log('|---|---|--:|--:|--:|--:|');
  for (const k of kinds) {
    for (const n of names) {
      const m = (f: (c: CpuShare) => number) => median(results[n][k].cpu.map(f));
      console.log(
        `| ${label[n]} | ${k.toUpperCase()} | ${m((c) => c.main).toFixed(0)} | ${m((c) => c.others).toFixed(0)} | ` +
          `${m((c) => c.upstream).toFixed(0)} | ${m((c) => c.main + c.others + c.upstream).toFixed(0)} |`,
      );
    }
  }
}

/** Every request wrk completed must be an operation in its app's database or a dropped exchange. */
function accounting(setups: Setup[], recorded: number[][], dropped: number[][]): void {
  console.log(
    '\n| | requests completed by wrk | recorded | dropped | recorded + dropped − completed | per app recorded (min–max) |',
  );
  console.log('|---|--:|--:|--:|--:|--:|');
  const verdicts: string[] = [];
  setups.forEach((s, i) => {
    const rec = recorded[i].reduce((a, b) => a + b, 0);
    const drop = dropped[i].reduce((a, b) => a + b, 0);
    const diff = rec + drop - sent[s.name];
    console.log(
      `| ${label[s.name]} | ${sent[s.name]} | ${rec} | ${drop} | ${diff} | ` +
        `${Math.min(...recorded[i])}–${Math.max(...recorded[i])} |`,
    );
    // wrk stops with up to `connections` requests in flight, which scimtap may still forward and record.
    const inFlight = sent.runs[s.name] * connections;
    verdicts.push(
      `${label[s.name]}: ${diff >= 0 && diff <= inFlight ? 'every exchange recorded or counted as dropped' : `${-diff} exchange(s) UNACCOUNTED`} ` +
        `(${diff} more than wrk completed; up to ${inFlight} can be in flight when its ${sent.runs[s.name]} runs stop)`,
    );
  });
  console.log(`\n${verdicts.join('\n')}`);
  if (sent.errors.length) console.log(`wrk reported: ${sent.errors.join('; ')}`);
}

function memoryReport(setups: Setup[], loaded: ReturnType<typeof memory>[]): void {
  if (!setups[0].idle) return;
  console.log(
    '\n| process | pipelines | threads | CPU idle (% of a core) | RSS idle MB | RSS after load MB | peak RSS MB |',
  );
  console.log('|---|--:|--:|--:|--:|--:|--:|');
  for (const [i, s] of setups.entries()) {
    console.log(
      `| ${label[s.name]} | ${s.apps.length} | ${loaded[i]?.threads} | ${s.idleCpu?.toFixed(1)} | ${s.idle?.rssMb.toFixed(0)} | ` +
        `${loaded[i]?.rssMb.toFixed(0)} | ${loaded[i]?.peakMb.toFixed(0)} |`,
    );
  }
  const [one, twenty] = [0, 1].map((i) => ({ idle: setups[i].idle!, loaded: loaded[i]! }));
  const extra = APPS - 1;
  console.log(
    `\n${extra} more pipelines cost ${(twenty.idle.rssMb - one.idle.rssMb).toFixed(0)} MB idle RSS ` +
      `(${((twenty.idle.rssMb - one.idle.rssMb) / extra).toFixed(1)} MB each), ` +
      `${(twenty.loaded.peakMb - one.loaded.peakMb).toFixed(0)} MB at peak, and ${twenty.loaded.threads - one.loaded.threads} threads ` +
      `(${((twenty.loaded.threads - one.loaded.threads) / extra).toFixed(1)} each), ` +
      `and ${((setups[1].idleCpu ?? Number.NaN) - (setups[0].idleCpu ?? Number.NaN)).toFixed(1)}% of a core with no traffic`,
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
