// The proxy benchmark (issue 12): the upstream direct, a bare Node forwarder that records nothing (the ceiling),
// and scimtap recording with bodies captured, measured in the same run in interleaved rounds on loopback.
// Throughput comes from wrk (closed loop, GET lookups and POST creates separately); latency from requests evenly
// paced at 300 req/s. The machine is shared, so what counts is the ratio to the forwarder measured alongside.
// Targets, GET and POST each: scimtap ≥ 0.8× the forwarder's req/s; scimtap's added p99 at 300 req/s ≤ the
// forwarder's added p99 + 0.5 ms.
//
// BENCH_ROUNDS, BENCH_SECONDS, BENCH_CONNECTIONS tune it; BENCH_SCIMTAP_NODE_ARGS passes node flags to scimtap
// (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" for a CPU profile of each of its threads). BENCH_BASELINE names
// another checkout (built, with node_modules) whose scimtap runs in the same rounds as `baseline`: before/after.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { pacedLatency, percentile, roundRatios, type Target } from './lib/load.js';
import { freePorts } from './lib/ports.js';
import { threadCpu } from './lib/scimtap-process.js';

const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);
const scimtapNodeArgs = (process.env.BENCH_SCIMTAP_NODE_ARGS ?? '').split(' ').filter(Boolean);
const baselineRoot = process.env.BENCH_BASELINE;
const root = new URL('..', import.meta.url).pathname;
const run = promisify(execFile);

function start(args: string[], ready: RegExp): Promise<{ child: ChildProcess; line: string }> {
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += d;
      const m = ready.exec(out);
      if (m) resolve({ child, line: m[0] });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`${args.join(' ')} exited ${code}: ${out}`)));
  });
}

const lookupPath = '/scim/v2/Users?filter=userName+eq+%22ada%40contoso.example%22';

/** wrk for `seconds`: requests per second, and the count of requests (for CPU per request). */
async function wrk(t: Target, kind: 'get' | 'post'): Promise<{ rps: number; requests: number }> {
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`];
  if (kind === 'post') args.push('-s', join(root, 'bench/lib/post.lua'));
  else args.push('-H', 'Authorization: Bearer token-benchmark');
  const url = `http://${t.host}:${t.port}${kind === 'post' ? '/scim/v2/Users' : lookupPath}`;
  const { stdout } = await run('wrk', [...args, url]);
  const errors = /Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)/.exec(stdout);
  if (errors) console.error(`${t.port} ${kind}: ${errors[0]}`);
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? Number.NaN),
    requests: Number(/(\d+) requests in/.exec(stdout)?.[1] ?? Number.NaN),
  };
}

// Where the CPU goes (Linux /proc): with 2 shared cores, throughput is set by the CPU that each request costs
// every thread on the machine, so the report shows, per request under wrk, the proxy's main thread (its tid is
// its pid), its other threads (scimtap's log writer, V8's helpers) and the upstream's.
interface CpuShare {
  main: number;
  others: number;
  upstream: number;
}

/** µs of CPU per request between two snapshots: the proxy's main thread, its other threads, the upstream. */
function cpuPerRequest(
  pid: number,
  before: Map<number, number>,
  after: Map<number, number>,
  upstream: [Map<number, number>, Map<number, number>],
  requests: number,
): CpuShare {
  const delta = (a: Map<number, number>, b: Map<number, number>, keep: (tid: number) => boolean) => {
    let s = 0;
    for (const [tid, t] of b) if (keep(tid)) s += t - (a.get(tid) ?? 0);
    return (s * 1e6) / requests;
  };
  return {
    main: delta(before, after, (tid) => tid === pid),
    others: delta(before, after, (tid) => tid !== pid),
    upstream: delta(upstream[0], upstream[1], () => true),
  };
}

type Name = 'direct' | 'forwarder' | 'scimtap' | 'baseline';
type Kind = 'get' | 'post';
const kinds: Kind[] = ['get', 'post'];
interface Sample {
  rps: number[];
  lat: number[];
  cpu: CpuShare[];
  /** ms from the end of a wrk run until derivation was caught up (scimtap and baseline) */
  catchUp: number[];
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'scimtap-bench-'));
  const upstream = await start(['--import', 'tsx', 'bench/lib/upstream.ts'], /\{"port":\d+\}/);
  const upstreamPort = JSON.parse(upstream.line).port as number;
  const forwarder = await start(
    ['--import', 'tsx', 'bench/lib/forwarder.ts', String(upstreamPort)],
    /\{"port":\d+\}/,
  );
  const forwarderPort = JSON.parse(forwarder.line).port as number;
  // scimtap's proxy and admin ports, then the baseline's
  const proxyPort = await freePorts(baselineRoot ? 4 : 2);
  const dbPath = join(dir, 'bench.db');
  const scimtap = startScimtap(root, upstreamPort, proxyPort, dbPath, scimtapNodeArgs);
  const baseline = baselineRoot
    ? startScimtap(baselineRoot, upstreamPort, proxyPort + 2, join(dir, 'baseline.db'), [])
    : undefined;
  const targets: Partial<Record<Name, Target>> = {
    direct: { host: '127.0.0.1', port: upstreamPort },
    forwarder: { host: '127.0.0.1', port: forwarderPort },
    scimtap: { host: '127.0.0.1', port: proxyPort },
    ...(baseline ? { baseline: { host: '127.0.0.1', port: proxyPort + 2 } } : {}),
  };
  for (const t of Object.values(targets)) await waitForPort(t);

  const names = Object.keys(targets) as Name[];
  const pids: Record<Name, number | undefined> = {
    direct: upstream.child.pid,
    forwarder: forwarder.child.pid,
    scimtap: scimtap.pid,
    baseline: baseline?.pid,
  };
  const admins: Partial<Record<Name, number>> = {
    scimtap: proxyPort + 1,
    ...(baseline ? { baseline: proxyPort + 3 } : {}),
  };
  const results = await measure(targets, names, pids, admins);

  const health = await (await fetch(`http://127.0.0.1:${proxyPort + 1}/api/health`)).json();
  scimtap.kill('SIGTERM');
  await new Promise((r) => scimtap.once('exit', r));
  baseline?.kill('SIGTERM');
  upstream.child.kill('SIGTERM');
  forwarder.child.kill('SIGTERM');
  const { recorded, passwordStored } = storedFacts(dbPath);
  rmSync(dir, { recursive: true, force: true });
  report(results, names);
  console.log(
    `\nrecorded operations: ${recorded}; recorder dropped: ${health.recorder?.dropped}; ` +
      `derivation behind at the end: ${JSON.stringify(health.derivation ?? null)}; password values stored: ${passwordStored}`,
  );
}

/** Interleaved rounds: wrk's req/s, then paced latency, per target and kind. */
async function measure(
  targets: Partial<Record<Name, Target>>,
  names: Name[],
  pids: Record<Name, number | undefined>,
  admins: Partial<Record<Name, number>>,
): Promise<Record<Name, Record<Kind, Sample>>> {
  const results = {} as Record<Name, Record<Kind, Sample>>;
  const sample = (): Sample => ({ rps: [], lat: [], cpu: [], catchUp: [] });
  for (const n of names) results[n] = { get: sample(), post: sample() };
  // Warm up every path (JIT, keep-alive pools) before measuring.
  for (const n of names) for (const k of kinds) await pacedLatency(targets[n]!, 300, 1_000, k);
  for (let r = 0; r < rounds; r++) {
    // Rotate the order each round, so that no target always runs after the same neighbour's backlog.
    const order = names.map((_, i) => names[(i + r) % names.length]);
    for (const n of order) {
      for (const k of kinds) {
        const pid = pids[n]!;
        const before = threadCpu(pid);
        const upstreamBefore = threadCpu(pids.direct);
        const { rps, requests } = await wrk(targets[n]!, k);
        results[n][k].rps.push(rps);
        if (before.size > 0) {
          const upstream: [Map<number, number>, Map<number, number>] = [
            upstreamBefore,
            threadCpu(pids.direct),
          ];
          const share = cpuPerRequest(pid, before, threadCpu(pid), upstream, requests);
          // direct: the proxy is the upstream itself
          results[n][k].cpu.push(n === 'direct' ? { ...share, upstream: 0 } : share);
        }
        // Let recording catch up after the burst, so the paced run measures the steady state. scimtap logs a
        // burst first and derives it after (store/burst.ts): how long that takes is reported on its own.
        await new Promise((resolve) => setTimeout(resolve, 500));
        const admin = admins[n];
        if (admin) results[n][k].catchUp.push(500 + (await caughtUp(admin)));
        results[n][k].lat.push(...(await pacedLatency(targets[n]!, 300, seconds * 1000, k)));
      }
    }
    process.stdout.write(`round ${r + 1}/${rounds} done\n`);
  }
  return results;
}

function report(results: Record<Name, Record<Kind, Sample>>, names: Name[]): void {
  const median = (v: number[]) => percentile(v, 50);
  console.log(
    `\nscimtap proxy benchmark — ${rounds} interleaved rounds; wrk ${seconds} s at ${connections} connections; ` +
      `latency at 300 req/s evenly paced for ${seconds} s; loopback, bodies captured (redacted)\n`,
  );
  console.log('| | kind | req/s (median) | × forwarder | p50 ms @300 | p99 ms @300 | added p50 / p99 ms |');
  console.log('|---|---|--:|--:|--:|--:|--:|');
  const verdicts: string[] = [];
  for (const k of kinds) {
    const fwd = median(results.forwarder[k].rps);
    const added = (n: Name, p: number) =>
      percentile(results[n][k].lat, p) - percentile(results.direct[k].lat, p);
    for (const n of names) {
      const s = results[n][k];
      const extra = n === 'direct' ? '' : `+${added(n, 50).toFixed(2)} / +${added(n, 99).toFixed(2)}`;
      console.log(
        `| ${n} | ${k.toUpperCase()} | ${median(s.rps).toFixed(0)} | ${(median(s.rps) / fwd).toFixed(2)} | ` +
          `${percentile(s.lat, 50).toFixed(2)} | ${percentile(s.lat, 99).toFixed(2)} | ${extra} |`,
      );
    }
    const ratio = median(results.scimtap[k].rps) / fwd;
    const p99Over = added('scimtap', 99) - added('forwarder', 99);
    verdicts.push(
      roundRatios(`${k.toUpperCase()} × forwarder`, results.scimtap[k].rps, results.forwarder[k].rps),
      `${k.toUpperCase()}: throughput ${ratio.toFixed(2)}× forwarder (target ≥ 0.8: ${ratio >= 0.8 ? 'met' : 'NOT met'}); ` +
        `added p99 ${p99Over >= 0 ? '+' : ''}${p99Over.toFixed(2)} ms over the forwarder's (target ≤ +0.5: ${p99Over <= 0.5 ? 'met' : 'NOT met'})`,
    );
  }
  console.log(`\n${verdicts.join('\n')}`);
  for (const n of names) {
    if (results[n].get.catchUp.length === 0) continue;
    const ms = kinds.map((k) => `${k.toUpperCase()} ${median(results[n][k].catchUp).toFixed(0)} ms`);
    console.log(`${n}: derivation caught up after each wrk run in (median) ${ms.join(', ')}`);
  }
  cpuReport(results, names);
}

/** µs of CPU per request under wrk, medians over the rounds (see threadCpu). */
function cpuReport(results: Record<Name, Record<Kind, Sample>>, names: Name[]): void {
  if (results.forwarder.get.cpu.length === 0) return;
  console.log('\nCPU per request under wrk (µs, median of rounds; /proc per thread)\n');
  console.log('| | kind | main thread | other threads | upstream | total |');
  console.log('|---|---|--:|--:|--:|--:|');
  for (const k of kinds) {
    for (const n of names) {
      const c = results[n][k].cpu;
      const m = (f: (s: CpuShare) => number) => percentile(c.map(f), 50);
      const total = m((s) => s.main + s.others + s.upstream);
      console.log(
        `| ${n} | ${k.toUpperCase()} | ${m((s) => s.main).toFixed(0)} | ${m((s) => s.others).toFixed(0)} | ` +
          `${m((s) => s.upstream).toFixed(0)} | ${total.toFixed(0)} |`,
      );
    }
  }
}

/** ms until /api/health says derivation is caught up (at most a minute). */
async function caughtUp(adminPort: number): Promise<number> {
  const t0 = performance.now();
  while (performance.now() - t0 < 60_000) {
    const health = await (await fetch(`http://127.0.0.1:${adminPort}/api/health`)).json();
    if ((health.derivation?.operations ?? 0) === 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return performance.now() - t0;
}

/** scimtap logs at warn here, so readiness is its port answering (waitForPort). */
function startScimtap(cwd: string, upstreamPort: number, port: number, db: string, nodeArgs: string[]) {
  return spawn(process.execPath, [...nodeArgs, 'bin/scimtap.js'], {
    cwd,
    env: {
      ...process.env,
      SCIMTAP_UPSTREAM: `http://127.0.0.1:${upstreamPort}`,
      SCIMTAP_LISTEN: `127.0.0.1:${port}`,
      SCIMTAP_ADMIN_LISTEN: `127.0.0.1:${port + 1}`,
      SCIMTAP_DB: db,
      SCIMTAP_CAPTURE: 'redacted',
      SCIMTAP_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
}

/** Operations recorded, and whether the benchmark's password ever reached a stored body (it must not). */
function storedFacts(dbPath: string): { recorded: number; passwordStored: number } {
  const db = new Database(dbPath, { readonly: true });
  const recorded = (db.prepare('select count(*) as n from operations').get() as { n: number }).n;
  // Both tables a body can be in: the log's, and a burst's not derived yet (store/pending.ts).
  const passwordStored = ['bodies', 'pending_operations']
    .map(
      (table) =>
        (
          db
            .prepare(`select count(*) as n from ${table} where request_body like '%not-a-real-password%'`)
            .get() as {
            n: number;
          }
        ).n,
    )
    .reduce((a, b) => a + b, 0);
  db.close();
  return { recorded, passwordStored };
}

async function waitForPort(t: Target) {
  const end = Date.now() + 60_000;
  while (Date.now() < end) {
    try {
      await fetch(`http://${t.host}:${t.port}/scim/v2/ServiceProviderConfig`);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error('scimtap did not start');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
