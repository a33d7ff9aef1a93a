// Recording on both stores (issue 13), in one run, interleaved rounds: how many exchanges per second the log
// write takes on SQLite (as scimtap writes it: classify, insert, derive in the same transaction) and on
// PostgreSQL (classify, insert through the async recorder, as every replica records), through one recorder and
// through two at once (two replicas' worth, each with its own pool), and how fast the PostgreSQL leader derives
// what they wrote. PostgreSQL runs durable (fsync and synchronous commits on), as a production server does.
// All in this one process, on these 2 cores: the figures are the store's, not a proxy's (bench/proxy.ts).
//
//   node --import tsx bench/recording-stores.ts        EXCHANGES=60000 ROUNDS=3
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../server/config.js';
import { createClientStage } from '../server/cycles/clients.js';
import { createCycleStage } from '../server/cycles/index.js';
import { classify } from '../server/scim/classify.js';
import type { Exchange } from '../server/scim/types.js';
import { openDatabase } from '../server/store/db.js';
import { createDerivation } from '../server/store/derivation.js';
import { createLogWriter } from '../server/store/ingest.js';
import { createPgDerivation } from '../server/store/pg/derive/derivation.js';
import { createOperationsLog } from '../server/store/pg/log.js';
import { createPgLogWrite, isRetryablePgError } from '../server/store/pg/log-write.js';
import { migratePostgres } from '../server/store/pg/migrate.js';
import { createPool, type Pool } from '../server/store/pg/pool.js';
import { createAsyncRecorder } from '../server/store/pg/recorder.js';
import { createTermsStage } from '../server/store/terms.js';
import { type PostgresServer, startPostgres } from '../test/helpers/postgres.js';
import { entraExchanges } from './lib/entra-exchanges.js';

const N = Number(process.env.EXCHANGES ?? 60_000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const BATCH = 500;
const config = loadConfig({ SCIMTAP_UPSTREAM: 'http://127.0.0.1:9', SCIMTAP_DB: ':memory:' });
const classifyOne = (e: Exchange) => classify(e, { capture: 'redacted', redact: ['password'] });
const log = (line: string) => process.stdout.write(`${line}\n`);
const rate = (n: number, ms: number) => Math.round((n * 1000) / ms);

function sqliteRun(dir: string, exchanges: Exchange[]): number {
  const db = openDatabase(join(dir, `s-${Math.random().toString(36).slice(2)}.db`));
  const stages = [createClientStage({ db }), createCycleStage({ db, config }), createTermsStage(db)];
  const derivation = createDerivation({ db, stages });
  const write = createLogWriter({ db, classify: classifyOne, derivation });
  const started = performance.now();
  for (let i = 0; i < exchanges.length; i += BATCH) write(exchanges.slice(i, i + BATCH));
  const ms = performance.now() - started;
  db.$client.close();
  return rate(exchanges.length, ms);
}

async function freshPool(server: PostgresServer): Promise<Pool> {
  const pool = createPool(await server.createDatabase(), { max: 4, onError() {} });
  await migratePostgres(pool);
  return pool;
}

/** `replicas` recorders, each with its own pool, sharing the exchanges; resolves when all are written. */
async function pgRecord(pools: Pool[], exchanges: Exchange[]): Promise<number> {
  const recorders = pools.map((pool) =>
    createAsyncRecorder({
      write: createPgLogWrite({ log: createOperationsLog(pool), classify: classifyOne }),
      retryable: isRetryablePgError,
      maxBatch: BATCH,
      maxQueue: exchanges.length,
    }),
  );
  const started = performance.now();
  for (let i = 0; i < exchanges.length; i++)
    recorders[i % recorders.length]?.record(exchanges[i] as Exchange);
  await Promise.all(recorders.map((r) => r.flush()));
  const ms = performance.now() - started;
  const lost = recorders.reduce((n, r) => n + r.stats().dropped + r.stats().queued, 0);
  if (lost > 0) throw new Error(`${lost} exchanges not written`);
  return rate(exchanges.length, ms);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

const dir = mkdtempSync(join(tmpdir(), 'scimtap-bench-recording-'));
const server = await startPostgres({ durable: true });
try {
  log(
    `machine: ${cpus().length} CPUs, load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  const exchanges = entraExchanges(N, 1);
  log(`${exchanges.length.toLocaleString()} Entra-shaped exchanges, batches of ${BATCH}, ${ROUNDS} rounds`);
  const r = { sqlite: [] as number[], pg1: [] as number[], pg2: [] as number[], derive: [] as number[] };
  for (let round = 1; round <= ROUNDS; round++) {
    r.sqlite.push(sqliteRun(dir, exchanges));
    const one = await freshPool(server);
    r.pg1.push(await pgRecord([one], exchanges));
    const two = [await freshPool(server), await freshPool(server)];
    r.pg2.push(await pgRecord(two, exchanges));
    const started = performance.now();
    const derived = await createPgDerivation({ pool: one, config }).drain();
    r.derive.push(rate(derived, performance.now() - started));
    await Promise.all([one, ...two].map((p) => p.end()));
    log(
      `round ${round}: SQLite ${r.sqlite.at(-1)}/s (log + derivation); PostgreSQL 1 recorder ${r.pg1.at(-1)}/s, 2 recorders ${r.pg2.at(-1)}/s (log); PostgreSQL leader derives ${r.derive.at(-1)}/s`,
    );
  }
  const s = median(r.sqlite);
  log('');
  log(`median exchanges/s: SQLite ${s.toLocaleString()} (log and derivation in one transaction)`);
  log(
    `  PostgreSQL, 1 recorder: ${median(r.pg1).toLocaleString()} = ${(median(r.pg1) / s).toFixed(2)}× SQLite`,
  );
  log(
    `  PostgreSQL, 2 recorders: ${median(r.pg2).toLocaleString()} = ${(median(r.pg2) / s).toFixed(2)}× SQLite`,
  );
  log(`  PostgreSQL leader's derivation: ${median(r.derive).toLocaleString()} operations/s`);
  log(
    `load average after: ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
} finally {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
