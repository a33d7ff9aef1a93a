// Where the log writer's time goes, per exchange (issue 12): classifying; logging first, as during a burst (the
// hot path: pending_operations), and deriving that burst afterwards (the catch-up); writing through, as when
// derivation is caught up (the insert into `operations` and derivation in one transaction); and how many WAL pages
// one written-through commit writes. One process, one thread, no proxy and no load generator, so
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
  /** µs per exchange, classifying included in the three after it */
  classify: number;
  /** logged first (a burst) */
  logFirst: number;
  /** that burst derived afterwards (classifying not included) */
  catchUp: number;
  /** written through: logged and derived in one transaction */
  through: number;
  /** WAL pages written per commit, written through */
  walPages: number;
}

function inBatches(exchanges: Exchange[], write: (batch: Exchange[]) => void): void {
  for (let i = 0; i < exchanges.length; i += BATCH) write(exchanges.slice(i, i + BATCH));
}

/**
 * One round of one writer: classify alone; a burst logged first, then derived; the same exchanges written through,
 * on a new file each.
 */
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
  const logFirstUs = perRow(started);
  const behind = w.createDerivation({ db: logDb, stages: stagesOf(w, logDb) });
  started = performance.now();
  behind.drain();
  const catchUpUs = perRow(started);
  logDb.$client.close();

  const path = join(dir, `${name}-derive.db`);
  const db = w.openDatabase(path);
  // The checkpointer thread is not running here: the WAL keeps every frame these commits write.
  db.$client.pragma('wal_autocheckpoint = 0');
  db.$client.pragma('wal_checkpoint(TRUNCATE)');
  const pageSize = db.$client.pragma('page_size', { simple: true }) as number;
  const write = w.createLogWriter({
    db,
    classify,
    derivation: w.createDerivation({ db, stages: stagesOf(w, db) }),
  });
  started = performance.now();
  inBatches(exchanges, (batch) => write(batch));
  const throughUs = perRow(started);
  const frames = statSync(`${path}-wal`).size / (pageSize + 24);
  db.$client.close();
  return {
    classify: classifyUs,
    logFirst: logFirstUs,
    catchUp: catchUpUs,
    through: throughUs,
    walPages: frames / Math.ceil(exchanges.length / BATCH),
  };
}

/** The derivation stages of the log writer thread (app-writer.ts). */
const stagesOf = (w: Writer, db: unknown) => [
  w.createClientStage({ db }),
  w.createCycleStage({ db, config }),
  w.createTermsStage(db),
];

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
    '| | classify µs | logged first (a burst) µs | its catch-up µs | written through µs | WAL pages per commit |\n' +
      '|---|--:|--:|--:|--:|--:|',
  );
  for (const [name, samples] of results) {
    const m = (key: keyof Sample) => median(samples, key).toFixed(1);
    console.log(
      `| ${name} | ${m('classify')} | ${m('logFirst')} | ${m('catchUp')} | ${m('through')} | ${m('walPages')} |`,
    );
  }
  console.log(
    '\nlogged first: classified and appended, what a burst costs while it lasts; its catch-up: deriving it after ' +
      'the burst; written through: classified, logged and derived in one transaction, at a normal rate',
  );
  const base = results.get('baseline');
  if (base) {
    const ratio = (key: keyof Sample) =>
      (median(results.get('scimtap')!, key) / median(base, key)).toFixed(2);
    console.log(
      `\nscimtap against the baseline, per exchange: logged first ${ratio('logFirst')}×, its catch-up ` +
        `${ratio('catchUp')}×, written through ${ratio('through')}×`,
    );
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
