// Generates a large provisioning log the real way: the Entra-like simulator → scimtap's proxy listener → the
// embedded SCIM target, every operation classified and recorded by scimtap (cycles, identities and all).
// Each runs in its own process, as in production. Reports the time it took and keeps the database for the
// scale benchmarks.
//
//   node --import tsx bench/generate.ts [--ops 1000000] [--users 20000] [--groups 200] [--concurrency 16]
//                                       [--churn 5] [--out ./data/bench-generated.db]
//   (GENERATE_OPS=... works too, for `npm run bench`)
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { createSimulator } from '../server/demo/simulator/index.js';
import { startTarget } from '../server/demo/target/index.js';

const root = new URL('..', import.meta.url).pathname;
const { values } = parseArgs({
  options: {
    ops: { type: 'string', default: process.env.GENERATE_OPS ?? '1000000' },
    users: { type: 'string', default: '20000' },
    groups: { type: 'string', default: '200' },
    members: { type: 'string', default: '50' },
    concurrency: { type: 'string', default: '16' },
    churn: { type: 'string', default: '5' },
    seed: { type: 'string', default: '1' },
    out: { type: 'string', default: './data/bench-generated.db' },
    'serve-target': { type: 'boolean', default: false },
  },
});

if (values['serve-target']) {
  // Child role: the SCIM target in its own process, so that it does not compete with the simulator for a core.
  const target = await startTarget({ port: 0, faults: { errorRate: 0.01 } });
  process.stdout.write(`${JSON.stringify({ url: target.url, token: target.token })}\n`);
  process.on('SIGTERM', () => target.close().then(() => process.exit(0)));
} else {
  await main();
}

function waitForLine(child: ChildProcess, pattern: RegExp): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += d;
      const m = pattern.exec(out);
      if (m) {
        child.stdout?.off('data', onData);
        child.stderr?.off('data', onData);
        resolvePromise(m[0]);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`child exited ${code}: ${out}`)));
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolvePromise) => {
    if (child.exitCode !== null) return resolvePromise();
    child.once('exit', () => resolvePromise());
    child.kill('SIGTERM');
  });
}

async function startTargetChild(): Promise<{ child: ChildProcess; url: string; token: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/generate.ts', '--serve-target'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const { url, token } = JSON.parse(await waitForLine(child, /\{"url".*\}/)) as {
    url: string;
    token: string;
  };
  return { child, url, token };
}

async function startScimtapChild(
  upstream: string,
  db: string,
): Promise<{ child: ChildProcess; proxy: string }> {
  const child = spawn(process.execPath, ['bin/scimtap.js'], {
    cwd: root,
    env: {
      ...process.env,
      SCIMTAP_UPSTREAM: upstream,
      SCIMTAP_LISTEN: '127.0.0.1:0',
      SCIMTAP_ADMIN_LISTEN: '127.0.0.1:0',
      SCIMTAP_DB: db,
      SCIMTAP_CAPTURE: 'redacted',
      SCIMTAP_LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const ready = JSON.parse(await waitForLine(child, /\{[^\n]*"scimtap is forwarding"[^\n]*\}/)) as {
    proxy: string;
  };
  child.stdout?.resume();
  return { child, proxy: ready.proxy };
}

/** What scimtap actually stored, in total and per operation. */
function countStored(path: string): { stored: number; byOperation: { operation: string; n: number }[] } {
  const db = new Database(path, { readonly: true });
  const stored = (db.prepare('select count(*) as n from operations').get() as { n: number }).n;
  const byOperation = db
    .prepare('select operation, count(*) as n from operations group by operation order by n desc')
    .all() as { operation: string; n: number }[];
  db.close();
  return { stored, byOperation };
}

async function main(): Promise<void> {
  const ops = Number(values.ops);
  const out = resolve(root, values.out!);
  mkdirSync(dirname(out), { recursive: true });
  for (const suffix of ['', '-wal', '-shm']) rmSync(`${out}${suffix}`, { force: true });

  const { child: targetChild, url, token } = await startTargetChild();
  const { child: scimtap, proxy } = await startScimtapChild(url, out);

  const started = performance.now();
  let lastReport = started;
  const simulator = createSimulator({
    target: proxy,
    token,
    users: Number(values.users),
    groups: Number(values.groups),
    membersPerGroup: Number(values.members),
    cycles: 0,
    intervalMs: 0,
    rate: 0,
    concurrency: Number(values.concurrency),
    churn: Number(values.churn),
    seed: Number(values.seed),
    maxRequests: ops,
    onCycle(info) {
      const now = performance.now();
      if (info.phase !== 'end' || now - lastReport < 10_000) return;
      lastReport = now;
      const done = simulator.progress().requests;
      const seconds = (now - started) / 1000;
      console.log(
        `  ${done.toLocaleString('en')} operations, cycle ${info.cycle}, ${Math.round(done / seconds)}/s`,
      );
    },
  });
  const summary = await simulator.run();
  const sendSeconds = (performance.now() - started) / 1000;
  // scimtap flushes its queue on SIGTERM; the count below is what it actually stored.
  await stopChild(scimtap);
  const totalSeconds = (performance.now() - started) / 1000;
  await stopChild(targetChild);

  const { stored, byOperation } = countStored(out);

  console.log(
    `generated ${summary.requests.toLocaleString('en')} operations in ${summary.cycles} cycles: ` +
      `${sendSeconds.toFixed(1)} s sending (${Math.round(summary.requests / sendSeconds)}/s through the proxy), ` +
      `${totalSeconds.toFixed(1)} s until all were stored`,
  );
  console.log(`stored ${stored.toLocaleString('en')} operations in ${out}`);
  console.log(`  ${byOperation.map((r) => `${r.operation} ${r.n.toLocaleString('en')}`).join(', ')}`);
  if (stored !== summary.requests) {
    console.error(`MISMATCH: the simulator sent ${summary.requests} requests but scimtap stored ${stored}`);
    process.exitCode = 1;
  }
}
