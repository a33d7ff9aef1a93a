// Issue 2's benchmark: a direct upstream vs the same upstream through scimtap (recording on, bodies captured),
// interleaved rounds on loopback. Targets: ≥ 5,000 req/s through scimtap; at 300 req/s evenly paced,
// ≤ 0.5 ms added p50 and ≤ 2 ms added p99.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { pacedLatency, percentile, type Target, throughput } from './lib/load.js';

const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const root = new URL('..', import.meta.url).pathname;

function start(
  args: string[],
  env: Record<string, string> = {},
  ready: RegExp,
): Promise<{ child: ChildProcess; line: string }> {
  const child = spawn(process.execPath, args, {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
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

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'scimtap-bench-'));
  const upstream = await start(['--import', 'tsx', 'bench/lib/upstream.ts'], {}, /\{"port":\d+\}/);
  const upstreamPort = JSON.parse(upstream.line).port as number;
  const proxyPort = 30_000 + Math.floor(Math.random() * 10_000);
  const dbPath = join(dir, 'bench.db');
  // scimtap logs at warn here, so readiness is its port answering (waitForPort below).
  const scimtap = spawn(process.execPath, ['bin/scimtap.js'], {
    cwd: root,
    env: {
      ...process.env,
      SCIMTAP_UPSTREAM: `http://127.0.0.1:${upstreamPort}`,
      SCIMTAP_LISTEN: `127.0.0.1:${proxyPort}`,
      SCIMTAP_ADMIN_LISTEN: `127.0.0.1:${proxyPort + 1}`,
      SCIMTAP_DB: dbPath,
      SCIMTAP_CAPTURE: 'redacted',
      SCIMTAP_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const direct: Target = { host: '127.0.0.1', port: upstreamPort };
  const proxied: Target = { host: '127.0.0.1', port: proxyPort };
  await waitForPort(proxied);

  const results = {
    direct: { rps: [] as number[], lat: [] as number[] },
    proxied: { rps: [] as number[], lat: [] as number[] },
  };
  // Warm up both paths (JIT, keep-alive pools) before measuring.
  await throughput(direct, 1000);
  await throughput(proxied, 1000);
  for (let r = 0; r < rounds; r++) {
    for (const [name, t] of [
      ['direct', direct],
      ['proxied', proxied],
    ] as const) {
      const { rps, errors } = await throughput(t, seconds * 1000);
      if (errors) console.error(`${name}: ${errors} errors`);
      results[name].rps.push(rps);
      results[name].lat.push(...(await pacedLatency(t, 300, seconds * 1000)));
    }
    process.stdout.write(`round ${r + 1}/${rounds} done\n`);
  }

  const health = await (await fetch(`http://127.0.0.1:${proxyPort + 1}/api/health`)).json();
  scimtap.kill('SIGTERM');
  await new Promise((r) => scimtap.once('exit', r));
  upstream.child.kill('SIGTERM');
  const db = new Database(dbPath, { readonly: true });
  const recorded = (db.prepare('select count(*) as n from operations').get() as { n: number }).n;
  const passwordStored = (
    db.prepare("select count(*) as n from bodies where request_body like '%not-a-real-password%'").get() as {
      n: number;
    }
  ).n;
  db.close();
  rmSync(dir, { recursive: true, force: true });

  const median = (v: number[]) => percentile(v, 50);
  const d = results.direct;
  const p = results.proxied;
  const rows = [
    [
      'throughput (req/s, median of rounds)',
      median(d.rps).toFixed(0),
      median(p.rps).toFixed(0),
      `ratio ${(median(p.rps) / median(d.rps)).toFixed(2)}`,
      '≥ 5000 through scimtap',
      median(p.rps) >= 5000,
    ],
    [
      'p50 latency at 300 req/s (ms)',
      percentile(d.lat, 50).toFixed(3),
      percentile(p.lat, 50).toFixed(3),
      `+${(percentile(p.lat, 50) - percentile(d.lat, 50)).toFixed(3)} ms`,
      '≤ +0.5 ms',
      percentile(p.lat, 50) - percentile(d.lat, 50) <= 0.5,
    ],
    [
      'p99 latency at 300 req/s (ms)',
      percentile(d.lat, 99).toFixed(3),
      percentile(p.lat, 99).toFixed(3),
      `+${(percentile(p.lat, 99) - percentile(d.lat, 99)).toFixed(3)} ms`,
      '≤ +2 ms',
      percentile(p.lat, 99) - percentile(d.lat, 99) <= 2,
    ],
  ];
  console.log(
    `\nscimtap proxy benchmark — ${rounds} interleaved rounds of ${seconds} s, GET lookups + POST creates (1:3), loopback\n`,
  );
  console.log('| measure | direct | via scimtap | added / ratio | target | met |');
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.slice(0, 5).join(' | ')} | ${r[5] ? 'yes' : 'NO'} |`);
  console.log(
    `\nrecorded operations: ${recorded}; recorder dropped: ${health.recorder?.dropped}; password values stored: ${passwordStored}`,
  );
}

async function waitForPort(t: Target) {
  const end = Date.now() + 20_000;
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
