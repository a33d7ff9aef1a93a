// Where the log writer's time goes, per exchange (issue 12): classifying, the SQLite insert and commit, and
// deriving; and how many WAL pages one commit writes. One process, one thread, no proxy and no load generator, so
// it is far less noisy than bench/proxy.ts on shared cores: a change to the writer shows here first, and what it
// is worth under load shows there. The exchanges are Entra-shaped (bench/lib/entra-exchanges.ts), each with a
// bearer token for the scrubber to look for, as the proxy's tap hands them over.
//
// BENCH_BASELINE names another checkout (with node_modules) whose writer runs in the same interleaved rounds:
// before and after in one run. EXCHANGES, ROUNDS and BATCH (rows per transaction, as app-writer.ts writes) tune it.
//
//   npm run bench -- log-writer        BENCH_BASELINE=/path/to/checkout EXCHANGES=20000 ROUNDS=5
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadConfig } from '../server/config.js';
import type { Exchange } from '../server/scim/types.js';
import { entraExchanges } from './lib/entra-exchanges.js';
import { percentile } from './lib/load.js';

const N = Number(process.env.EXCHANGES ?? 20_000);
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const BATCH = Number(process.env.BATCH ?? 100);
const baselineRoot = process.env.BENCH_BASELINE;
const root = new URL('..', import.meta.url).pathname;
const config = loadConfig({ SCIMTAP_UPSTREAM: 'http://127.0.0.1:9', SCIMTAP_DB: ':memory:' });
const classifyOptions = { capture: 'redacted' as const, redact: config.redact };

/**
 * The writer's parts, from one checkout's build (built here first): the JavaScript scimtap runs. The TypeScript
 * sources through tsx would carry its helpers (`__name` on every closure) and measure something else.
 */
async function writerOf(checkout: string) {
  const tsc = join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');
  const built = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.server.json'], {
    cwd: checkout,
    stdio: 'inherit',
  });
  if (built.status !== 0) throw new Error(`could not build ${checkout}`);
  const load = (path: string) => import(pathToFileURL(join(checkout, 'dist', path)).href);
  return {
    classify: (await load('server/scim/classify.js')).classify,
    openDatabase: (await load('server/store/db.js')).openDatabase,
    createLogWriter: (await load('server/store/ingest.js')).createLogWriter,
    createDerivation: (await load('server/store/derivation.js')).createDerivation,
    createTermsStage: (await load('server/store/terms.js')).createTermsStage,
    createClientStage: (await load('server/cycles/clients.js')).createClientStage,
    createCycleStage: (await load('server/cycles/index.js')).createCycleStage,
  };
}
type Writer = Awaited<ReturnType<typeof writerOf>>;

interface Sample {
  /** µs per exchange */
  classify: number;
  log: number;
  logAndDerive: number;
  /** WAL pages written per commit, log and derivation */
  walPages: number;
}

function inBatches(exchanges: Exchange[], write: (batch: Exchange[]) => void): void {
  for (let i = 0; i < exchanges.length; i += BATCH) write(exchanges.slice(i, i + BATCH));
}

/** One round of one writer: classify alone, then the log alone, then the log and derivation, each on a new file. */
function measure(w: Writer, exchanges: Exchange[], dir: string, name: string): Sample {
  const classify = (e: Exchange) => w.classify(e, classifyOptions);
  const perRow = (started: number) => ((performance.now() - started) * 1000) / exchanges.length;
  let started = performance.now();
  for (const e of exchanges) classify(e);
  const classifyUs = perRow(started);

  const logDb = w.openDatabase(join(dir, `${name}-log.db`));
  const logOnly = w.createLogWriter({ db: logDb, classify });
  started = performance.now();
  inBatches(exchanges, (batch) => logOnly(batch, { derive: false }));
  const logUs = perRow(started);
  logDb.$client.close();

  const path = join(dir, `${name}-derive.db`);
  const db = w.openDatabase(path);
  // The checkpointer thread is not running here: the WAL keeps every frame these commits write.
  db.$client.pragma('wal_autocheckpoint = 0');
  db.$client.pragma('wal_checkpoint(TRUNCATE)');
  const pageSize = db.$client.pragma('page_size', { simple: true }) as number;
  const stages = [w.createClientStage({ db }), w.createCycleStage({ db, config }), w.createTermsStage(db)];
  const write = w.createLogWriter({ db, classify, derivation: w.createDerivation({ db, stages }) });
  started = performance.now();
  inBatches(exchanges, (batch) => write(batch));
  const logAndDeriveUs = perRow(started);
  const frames = statSync(`${path}-wal`).size / (pageSize + 24);
  db.$client.close();
  return {
    classify: classifyUs,
    log: logUs,
    logAndDerive: logAndDeriveUs,
    walPages: frames / Math.ceil(exchanges.length / BATCH),
  };
}

function report(results: Map<string, Sample[]>): void {
  const median = (samples: Sample[], key: keyof Sample) =>
    percentile(
      samples.map((s) => s[key]),
      50,
    );
  console.log(
    `\nlog writer, per exchange (median of ${ROUNDS} interleaved rounds; ${N.toLocaleString()} Entra-shaped exchanges, ${BATCH} per transaction)\n`,
  );
  console.log(
    '| | classify µs | insert + commit µs | derive µs | total µs | WAL pages per commit |\n|---|--:|--:|--:|--:|--:|',
  );
  for (const [name, samples] of results) {
    const c = median(samples, 'classify');
    const l = median(samples, 'log');
    const d = median(samples, 'logAndDerive');
    console.log(
      `| ${name} | ${c.toFixed(1)} | ${(l - c).toFixed(1)} | ${(d - l).toFixed(1)} | ${d.toFixed(1)} | ${median(samples, 'walPages').toFixed(1)} |`,
    );
  }
  const base = results.get('baseline');
  if (base) {
    const now = median(results.get('scimtap')!, 'logAndDerive');
    const before = median(base, 'logAndDerive');
    console.log(`\nscimtap's writer costs ${(now / before).toFixed(2)}× the baseline's per exchange`);
  }
}

async function main() {
  console.log(
    `machine: ${cpus().length} CPUs, load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  const writers = new Map<string, Writer>([['scimtap', await writerOf(root)]]);
  if (baselineRoot) writers.set('baseline', await writerOf(baselineRoot));
  // Production exchanges carry the Authorization header's credential for the scrubber (proxy/tap.ts).
  const exchanges = entraExchanges(N, 1).map((e) => ({
    ...e,
    credentials: ['eyJ0eXAiOiJKV1QiLCJhbGciOi-bench'],
  }));
  const dir = mkdtempSync(join(tmpdir(), 'scimtap-log-writer-'));
  const results = new Map<string, Sample[]>([...writers.keys()].map((k) => [k, []]));
  try {
    // One unmeasured pass each: the JIT warms up on the same code paths.
    for (const [name, w] of writers) measure(w, exchanges.slice(0, 2_000), dir, `${name}-warm`);
    for (let round = 0; round < ROUNDS; round++) {
      // Alternate who goes first, so that neither always runs on a warmer (or busier) machine.
      const order = round % 2 === 0 ? [...writers] : [...writers].reverse();
      for (const [name, w] of order) results.get(name)!.push(measure(w, exchanges, dir, `${name}-${round}`));
      process.stdout.write(`round ${round + 1}/${ROUNDS} done\n`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  report(results);
}

await main();
