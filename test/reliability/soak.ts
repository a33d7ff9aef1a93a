// Soak (issue 7 §7), `npm run soak`, not in CI: Entra-like traffic from the demo simulator at 200 requests/s
// through a real `node bin/scimtap.js` to the demo SCIM target, with a fault injected into the target every
// minute, for SOAK_MINUTES (default 10). Prints a summary table and exits non-zero when a target is missed:
//   - zero lost operations: requests the simulator sent = operations recorded with its User-Agent
//   - RSS growth of the scimtap process after warm-up < 50 MB
//   - p99 added latency < 10 ms, from a control stream of request pairs, one straight to the target and one
//     through scimtap, sent back to back (order alternating), compared pair by pair
//
// Environment: SOAK_MINUTES (10), SOAK_RATE (200 requests/s), SOAK_SEED (1), SOAK_DEBUG (print the 25 worst
// pairs), SOAK_SCIMTAP_NODE_OPTIONS (NODE_OPTIONS for the scimtap process only), SOAK_CPU_HOG (1: a process
// that keeps one core busy for the whole run, as a noisy neighbour would; issue 12's target holds under it).

import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { createSimulator } from '../../server/demo/simulator/index.js';
import { mulberry32 } from '../../server/demo/simulator/random.js';
import { startTarget, type TargetFaults } from '../../server/demo/target/index.js';
import { percentile, rssOf, spawnScimtap, stopProcess, until } from './lib.js';

const minutes = Number(process.env.SOAK_MINUTES ?? 10);
const rate = Number(process.env.SOAK_RATE ?? 200);
const seed = Number(process.env.SOAK_SEED ?? 1);
const durationMs = minutes * 60_000;
// Warm-up: JIT, pools, SQLite cache and the initial cycle's directory; the growth is measured after it.
const warmupMs = Math.min(120_000, durationMs / 4);
const TARGETS = { lost: 0, rssGrowthMb: 50, addedP99Ms: 10 };
const CONTROL_UA = 'scimtap-soak-control';
const SIMULATOR_UA = 'scimtap-simulator (like Microsoft.AAD.Provisioning)';

/** One fault per minute, rotating; each lasts 30 s of its minute so recovery is exercised too. */
const faultPlan: [string, Partial<TargetFaults>][] = [
  ['errorRate 20%', { errorRate: 0.2 }],
  ['latency 50 ms', { latencyMs: 50 }],
  ['token expired', { tokenExpired: true }],
  ['throttle 30%', { throttleRate: 0.3 }],
];
const HEALTHY: Partial<TargetFaults> = { errorRate: 0, latencyMs: 0, tokenExpired: false, throttleRate: 0 };

const log = (text: string) =>
  process.stdout.write(`[soak ${new Date().toISOString().slice(11, 19)}] ${text}\n`);

/** A busy loop in its own process: one core taken from scimtap, the target and the load generator. */
function startCpuHog() {
  const hog = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
  return { stop: () => hog.kill('SIGKILL') };
}

async function main(): Promise<number> {
  const hog = process.env.SOAK_CPU_HOG === '1' ? startCpuHog() : null;
  try {
    return await soak(hog !== null);
  } finally {
    hog?.stop();
  }
}

async function soak(withHog: boolean): Promise<number> {
  const target = await startTarget({ faults: { random: mulberry32(seed + 1) } });
  const dir = mkdtempSync(join(tmpdir(), 'scimtap-soak-'));
  const dbPath = join(dir, 'scimtap.db');
  const scimtap = await spawnScimtap({
    SCIMTAP_UPSTREAM: target.url,
    SCIMTAP_DB: dbPath,
    // e.g. --max-semi-space-size=32, to compare garbage-collector settings of the scimtap process alone
    ...(process.env.SOAK_SCIMTAP_NODE_OPTIONS ? { NODE_OPTIONS: process.env.SOAK_SCIMTAP_NODE_OPTIONS } : {}),
  });
  log(
    `scimtap pid ${scimtap.pid} at ${scimtap.proxyUrl} → target ${target.url}; ${minutes} min at ${rate}/s`,
  );

  const started = Date.now();
  const elapsed = () => Date.now() - started;

  // Faults: minute k gets faultPlan[k % 4] from second 15 to 45.
  const faultLog: string[] = [];
  const faultTimers: NodeJS.Timeout[] = [];
  for (let k = 0; k * 60_000 < durationMs; k++) {
    const [name, faults] = faultPlan[k % faultPlan.length];
    faultTimers.push(
      setTimeout(
        () => {
          target.setFaults({ ...HEALTHY, ...faults });
          faultLog.push(`${k + 1}: ${name}`);
          log(`fault on: ${name}`);
        },
        k * 60_000 + 15_000,
      ),
      setTimeout(
        () => {
          target.setFaults(HEALTHY);
          log('fault off');
        },
        k * 60_000 + 45_000,
      ),
    );
  }

  // RSS of the scimtap process every 2 s.
  const rss: { t: number; bytes: number }[] = [];
  const rssTimer = setInterval(() => rss.push({ t: elapsed(), bytes: rssOf(scimtap.pid) }), 2_000);

  // The Entra-like load.
  const simulator = createSimulator({
    target: scimtap.proxyUrl,
    token: target.token,
    users: 3_000,
    groups: 150,
    membersPerGroup: 20,
    cycles: 0,
    // Back to back: each cycle starts when the last one ends, so the rate never idles between cycles.
    intervalMs: 0,
    rate,
    seed,
    concurrency: 24,
    churn: 2,
    requestTimeoutMs: 30_000,
    // Plain timers: the default sleep adds an abort listener per waiting worker (a warning past 10 workers).
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  });
  const run = simulator.run();

  // The control stream: pairs of identical lookups, direct and through scimtap, ten pairs a second.
  const directAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const proxyAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const added: number[] = [];
  const pairs: [number, number, number][] = [];
  const direct: number[] = [];
  const proxied: number[] = [];
  let controlSent = 0;
  let controlRunning = true;
  const timed = (base: string, path: string, agent: http.Agent) =>
    new Promise<number>((resolve) => {
      const u = new URL(base);
      const t0 = performance.now();
      const req = http.request(
        {
          hostname: u.hostname,
          port: u.port,
          path: `${u.pathname.replace(/\/$/, '')}${path}`,
          agent,
          headers: { authorization: `Bearer ${target.token}`, 'user-agent': CONTROL_UA },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(performance.now() - t0));
        },
      );
      req.on('error', () => resolve(Number.NaN));
      req.end();
    });
  const control = (async () => {
    for (let n = 0; controlRunning; n++) {
      const path = `/Users?filter=${encodeURIComponent(`userName eq "control-${n}@example.com"`)}`;
      const viaFirst = n % 2 === 0;
      const a = await timed(
        viaFirst ? scimtap.proxyUrl : target.url,
        path,
        viaFirst ? proxyAgent : directAgent,
      );
      const b = await timed(
        viaFirst ? target.url : scimtap.proxyUrl,
        path,
        viaFirst ? directAgent : proxyAgent,
      );
      controlSent++;
      const [viaScimtap, straight] = viaFirst ? [a, b] : [b, a];
      if (elapsed() > warmupMs && Number.isFinite(viaScimtap) && Number.isFinite(straight)) {
        added.push(viaScimtap - straight);
        pairs.push([elapsed(), straight, viaScimtap]);
        proxied.push(viaScimtap);
        direct.push(straight);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();

  const progress = setInterval(() => {
    const p = simulator.progress();
    const last = rss.at(-1);
    log(
      `${Math.round(elapsed() / 1000)} s: ${p.requests} simulator requests (${Math.round((p.requests * 1000) / elapsed())}/s), cycle ${p.cycle}, RSS ${last ? (last.bytes / 2 ** 20).toFixed(0) : '?'} MB`,
    );
  }, 30_000);

  await new Promise((r) => setTimeout(r, durationMs));
  simulator.stop();
  controlRunning = false;
  const summary = await run;
  await control;
  clearInterval(progress);
  clearInterval(rssTimer);
  for (const t of faultTimers) clearTimeout(t);
  directAgent.destroy();
  proxyAgent.destroy();

  // Let the recorder write what is queued, then stop scimtap cleanly and count.
  const health = await until(
    async () => {
      const res = await fetch(`${scimtap.adminUrl}/api/health`).catch(() => null);
      const body = res
        ? ((await res.json()) as { recorder: { queued: number; dropped: number; written: number } })
        : null;
      return body && body.recorder.queued === 0 ? body : undefined;
    },
    30_000,
    'the recorder queue to drain',
  );
  const incidents = (await (await fetch(`${scimtap.adminUrl}/api/incidents?limit=100`)).json()) as {
    items: { rule: string; state: string }[];
  };
  // scimtap's own view of its event loop (prom-client's default metrics): stalls show up as added latency.
  const metrics = await (await fetch(`${scimtap.adminUrl}/metrics`)).text();
  const gauge = (name: string) =>
    Number(new RegExp(`^scimtap_${name} (\\S+)$`, 'm').exec(metrics)?.[1] ?? Number.NaN) * 1000;
  const loopLag = `p50 ${gauge('nodejs_eventloop_lag_p50_seconds').toFixed(1)}, p99 ${gauge('nodejs_eventloop_lag_p99_seconds').toFixed(1)}, max ${gauge('nodejs_eventloop_lag_max_seconds').toFixed(1)} ms`;
  await stopProcess(scimtap);
  await target.close();

  const db = new Database(dbPath, { readonly: true });
  const byUa = Object.fromEntries(
    (
      db.prepare('select user_agent as ua, count(*) as n from operations group by user_agent').all() as {
        ua: string;
        n: number;
      }[]
    ).map((r) => [r.ua, r.n]),
  );
  const integrity = db.pragma('integrity_check', { simple: true });
  db.close();

  const recordedSim = byUa[SIMULATOR_UA] ?? 0;
  const recordedControl = byUa[CONTROL_UA] ?? 0;
  const lost = summary.requests - recordedSim + (controlSent - recordedControl);
  const afterWarmup = rss.filter((s) => s.t >= warmupMs);
  const window = (from: number, to: number) =>
    afterWarmup.filter((s) => s.t >= from && s.t < to).map((s) => s.bytes);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  // Means over 20 s windows: RSS saws with each collection; a leak moves the whole saw.
  const rssStart = mean(window(warmupMs, warmupMs + 20_000));
  const rssEnd = mean(window(durationMs - 20_000, durationMs + 1));
  const rssGrowthMb = (rssEnd - rssStart) / 2 ** 20;
  const rssPeakMb = Math.max(...rss.map((s) => s.bytes)) / 2 ** 20;
  const addedP50 = percentile(added, 50);
  const addedP99 = percentile(added, 99);
  // Split by whether the target was misbehaving: the fault adds the same delay to both legs of a pair, but
  // a busier scimtap (more requests in flight) may add more of its own.
  const inFault = (t: number) => t % 60_000 >= 15_000 && t % 60_000 < 45_000;
  const healthyP99 = percentile(
    pairs.filter(([t]) => !inFault(t)).map(([, d, v]) => v - d),
    99,
  );
  const faultP99 = percentile(
    pairs.filter(([t]) => inFault(t)).map(([, d, v]) => v - d),
    99,
  );

  const rows: [string, string, string, boolean | null][] = [
    [
      'duration',
      `${minutes} min (warm-up ${Math.round(warmupMs / 1000)} s)${withHog ? ', a CPU hog busy on one core' : ''}`,
      '',
      null,
    ],
    [
      'simulator requests',
      `${summary.requests} (${Math.round((summary.requests * 1000) / durationMs)}/s), ${summary.cycles} cycles`,
      '',
      null,
    ],
    [
      'simulator HTTP statuses',
      Object.entries(summary.byHttpStatus)
        .map(([s, n]) => `${s}: ${n}`)
        .join(', '),
      '',
      null,
    ],
    ['control pairs', `${controlSent}`, '', null],
    ['faults injected', faultLog.join('; '), '', null],
    ['recorded (simulator / control)', `${recordedSim} / ${recordedControl}`, '', null],
    ['recorder dropped', String(health.recorder.dropped), '0', health.recorder.dropped === 0],
    ['lost operations', String(lost), String(TARGETS.lost), lost === TARGETS.lost],
    ['integrity_check', String(integrity), 'ok', integrity === 'ok'],
    [
      'RSS after warm-up → end',
      `${(rssStart / 2 ** 20).toFixed(1)} → ${(rssEnd / 2 ** 20).toFixed(1)} MB (peak ${rssPeakMb.toFixed(1)})`,
      '',
      null,
    ],
    [
      'RSS growth after warm-up',
      `${rssGrowthMb.toFixed(1)} MB`,
      `< ${TARGETS.rssGrowthMb} MB`,
      rssGrowthMb < TARGETS.rssGrowthMb,
    ],
    [
      'latency direct p50 / p99',
      `${percentile(direct, 50).toFixed(2)} / ${percentile(direct, 99).toFixed(2)} ms`,
      '',
      null,
    ],
    [
      'latency via scimtap p50 / p99',
      `${percentile(proxied, 50).toFixed(2)} / ${percentile(proxied, 99).toFixed(2)} ms`,
      '',
      null,
    ],
    ['added latency p50', `${addedP50.toFixed(2)} ms`, '', null],
    [
      'added latency p99, target healthy / faulty',
      `${healthyP99.toFixed(2)} / ${faultP99.toFixed(2)} ms`,
      '',
      null,
    ],
    [
      'added latency p99',
      `${addedP99.toFixed(2)} ms`,
      `< ${TARGETS.addedP99Ms} ms`,
      addedP99 < TARGETS.addedP99Ms,
    ],
    ['scimtap event-loop lag', loopLag, '', null],
    ['incidents', incidents.items.map((i) => `${i.rule} (${i.state})`).join(', ') || 'none', '', null],
  ];
  const w = [Math.max(...rows.map((r) => r[0].length)), Math.max(...rows.map((r) => r[1].length)), 10];
  const line = (a: string, b: string, c: string, d: string) =>
    `| ${a.padEnd(w[0])} | ${b.padEnd(w[1])} | ${c.padEnd(w[2])} | ${d.padEnd(4)} |`;
  process.stdout.write(`\n${line('measure', 'value', 'target', 'met')}\n`);
  process.stdout.write(`${line('-'.repeat(w[0]), '-'.repeat(w[1]), '-'.repeat(w[2]), '----')}\n`);
  for (const [a, b, c, d] of rows)
    process.stdout.write(`${line(a, b, c, d === null ? '' : d ? 'yes' : 'NO')}\n`);
  if (process.env.SOAK_DEBUG) {
    const worst = [...pairs].sort((a, b) => b[2] - b[1] - (a[2] - a[1])).slice(0, 25);
    for (const [t, d, v] of worst)
      process.stdout.write(`t=${(t / 1000).toFixed(1)} direct ${d.toFixed(1)} via ${v.toFixed(1)}\n`);
  }
  const missed = rows.filter((r) => r[3] === false).map((r) => r[0]);
  process.stdout.write(missed.length ? `\nMISSED: ${missed.join(', ')}\n` : '\nall targets met\n');
  return missed.length ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`soak failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    // A failure part-way leaves the target's server listening: without an exit the soak, and its hold on the
    // benchmark lock that scripts take around it, would stay.
    process.exit(2);
  },
);
