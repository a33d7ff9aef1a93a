import { hostname } from 'node:os';
import type { EvaluationReport } from './alerts/engine.js';
import { createPgAlertEngine, type PgAlertEngine } from './alerts/pg-engine.js';
import { createAppApi } from './api/index.js';
import type { MetricsRegistry } from './api/metrics.js';
import type { AppConfig } from './config/apps.js';
import type { Config } from './config.js';
import { registerReplicaMetrics, startPgJobs, startPresence } from './pg-replica.js';
import type { AppLinks, RunningApp } from './pipeline.js';
import { createUpstreamState } from './proxy/upstream-state.js';
import { classify } from './scim/classify.js';
import type { IngestStage, OperationRecord, StoredOperation } from './store/ingest.js';
import { pgAdminStore } from './store/pg/admin-store.js';
import { pgDatabase } from './store/pg/db.js';
import { type PgConsumer, type PgDerivationLag, startPgConsumer } from './store/pg/derive/consumer.js';
import { createOperationsLog } from './store/pg/log.js';
import { createPgLogWrite, driverError, isRetryablePgError } from './store/pg/log-write.js';
import { openPgStore, type Schema, SchemaPending } from './store/pg/open.js';
import type { Pool } from './store/pg/pool.js';
import { pendingEmailCount } from './store/pg/queries/notifications.js';
import { type AsyncRecorder, createAsyncRecorder } from './store/pg/recorder.js';
import type { RecorderStats } from './store/recorder.js';
import { createAppProxy, type Wiring } from './wiring.js';

// One app's pipeline on a PostgreSQL store (issue 13), one of several replicas sharing the database:
// - every replica forwards, records into the shared log (pg/recorder.ts) and serves the dashboard and the API;
// - the replica holding the lead (pg/lease.ts) derives (pg/derive/consumer.ts), detects and evaluates; the alert
//   engine follows the lead (alerts/pg-engine.ts);
// - every replica delivers from the outbox, each row claimed before it is sent (pg/outbox.ts);
// - each replica says how it is in a meta row, so /api/health on any of them shows them all (pg/replicas.ts).

/** SCIMTAP_REPLICA, else `<hostname>:<pid>`: unique on one host, and a pod's name under Kubernetes. */
export function replicaName(config: Pick<Config, 'replica'>): string {
  return config.replica ?? `${hostname()}:${process.pid}`;
}

/** One app's pipeline on PostgreSQL. */
export interface PgPipeline extends RunningApp {
  store: 'postgres';
  pool: Pool;
  /** this replica's name */
  replica: string;
  alerts: PgAlertEngine;
  consumer: PgConsumer;
}

export async function startPgPipeline(
  w: Wiring & { links: AppLinks },
  app: AppConfig,
  registry: MetricsRegistry,
  version: string,
  url: string,
): Promise<PgPipeline> {
  const { config, clock, closers, links } = w;
  const replica = replicaName(config);
  const logger = w.logger.child({ replica });
  const { pool, schema } = await openPgStore(url, { shown: config.db, logger, closers });
  const upstreamState = createUpstreamState();
  let recorder: AsyncRecorder | undefined;
  const recorderStats = (): RecorderStats => recorder!.stats();
  const metrics = registry.forApp(app.id, { recorderStats });
  // This replica's own exchanges, once written, feed what it says of itself: the upstream's state, the metrics.
  const followers: IngestStage[] = [upstreamState.stage, metrics.stage];
  recorder = startPgRecorder(w, pool, schema, followers, logger);
  let adminPort: number | undefined;
  const api = links.api;
  const alerts = createPgAlertEngine({
    pool,
    config,
    clock,
    logger,
    recorderStats,
    baseUrl: () => links.dashboard(adminPort),
    api: api && (() => api(adminPort)),
    upstream: w.upstream,
  });
  closers.add('alerts', () => alerts.stop());
  const consumer = startLeaderConsumer(w, { pool, schema, url, replica }, alerts, logger);
  const replicas = startPresence(w, pool, { replica, version, consumer, recorderStats, logger });
  const lag: { last: PgDerivationLag | null; pending: number } = { last: null, pending: 0 };
  const readLag = async () => {
    lag.last = await consumer.lag(clock());
    return lag.last;
  };
  const db = pgDatabase(pool);
  const readPending = async () => {
    lag.pending = await pendingEmailCount(db);
  };
  registerReplicaMetrics(metrics, consumer, alerts, lag);
  const proxy = createAppProxy(config, w.upstream, recorder, clock, closers);
  const store = pgAdminStore(db);
  const routes = createAppApi({
    store,
    version,
    mode: config.mode,
    appName: config.appName,
    appId: app.id,
    recorderStats,
    upstreamState: upstreamState.state,
    emailState: async () => {
      const state = await store.emailDeliveryState();
      lag.pending = state.pending;
      return state;
    },
    config,
    clock,
    alerts,
    derivationLag: readLag,
    replicas,
  });
  return {
    store: 'postgres',
    app,
    config,
    alerts,
    consumer,
    recorder: {
      record: (e) => recorder.record(e),
      stats: recorderStats,
      // "flushed": written to the log and, when this replica leads, derived from it.
      flush: async () => {
        await recorder.flush();
        await consumer.drain();
      },
    },
    tick: async () => {
      const report = (await alerts.tick()) ?? emptyReport();
      await readPending();
      return report;
    },
    proxy,
    api: routes,
    pool,
    replica,
    open(port) {
      adminPort = port;
      alerts.start();
      startPgJobs(w, { pool, alerts, consumer, readLag, readPending, logger });
    },
  };
}

const emptyReport = (): EvaluationReport => ({
  findings: 0,
  open: 0,
  resolved: 0,
  emails: [],
  transitions: [],
});

/** Recording into the shared log; on failure it queues, counts drops and says so (recorderFailing reads it). */
function startPgRecorder(
  w: Wiring,
  pool: Pool,
  schema: Schema,
  followers: IngestStage[],
  logger: Wiring['logger'],
): AsyncRecorder {
  const { config, clock, closers, options } = w;
  const classifyOptions = {
    capture: config.capture,
    redact: config.redact,
    captureLimitBytes: config.captureLimitBytes,
  };
  let lastLoggedError = 0;
  const write = createPgLogWrite({
    log: createOperationsLog(pool),
    classify: (exchange) => classify(exchange, classifyOptions),
    onWritten: (records) => follow(followers, records, logger),
  });
  const recorder = createAsyncRecorder({
    // Kept queued (retryable) until the migrations are applied.
    write: (batch) => (schema.ready() ? write(batch) : Promise.reject(new SchemaPending())),
    retryable: (err) => err instanceof SchemaPending || isRetryablePgError(err),
    // Soon after the exchange: the leader derives in request order once an operation is a second old
    // (derive/consumer.ts), so every replica's rows must be in the log by then. One write is in flight at a
    // time, so under load the batches grow instead of the commits multiplying.
    flushIntervalMs: 100,
    maxQueue: options.recorderMaxQueue,
    clock,
    onError(err, retryable) {
      // A database that is down would otherwise log twice a second.
      if (clock() - lastLoggedError < 10_000) return;
      lastLoggedError = clock();
      logger.error({ err, retryable }, 'recorder: could not write to the database; queueing');
    },
  });
  recorder.start();
  closers.add('recorder', async () => {
    const dropped = await recorder.stop({ deadlineMs: 5_000 });
    if (dropped > 0) logger.error({ dropped }, 'recorder: exchanges not written before stopping');
  });
  return recorder;
}

function follow(followers: IngestStage[], records: OperationRecord[], logger: Wiring['logger']): void {
  const ops = records.map((r): StoredOperation => ({ ...r, id: 0 }));
  for (const stage of followers) {
    try {
      stage.afterCommit?.(ops);
    } catch (err) {
      logger.error({ err }, 'a follower of the recorder failed');
    }
  }
}

/** Every replica runs one; the one holding the lease derives, and the alert engine follows the lead. */
function startLeaderConsumer(
  w: Wiring,
  { pool, schema, url, replica }: { pool: Pool; schema: Schema; url: string; replica: string },
  alerts: PgAlertEngine,
  logger: Wiring['logger'],
): PgConsumer {
  const { config, clock, closers } = w;
  let lastLoggedError = 0;
  const consumer = startPgConsumer({
    pool,
    url,
    replica,
    config,
    clock,
    async onLead() {
      // Until the tables exist the term waits (the consumer tries again with a backoff).
      if (!schema.ready()) throw new SchemaPending();
      await alerts.lead();
      // SQLite's evaluation job runs at start to catch up (a stall that began while scimtap was down is news);
      // here the lead comes later than the start, or moves to another replica: catch up then, once what is left
      // to derive has been (the burst waits for the batches to pause).
      if (w.options.periodicJobs !== false) alerts.schedule();
    },
    onLeadChange(leading) {
      if (!leading) alerts.unlead();
      logger.warn(
        leading ? 'this replica leads: it derives, detects and evaluates' : 'this replica no longer leads',
      );
    },
    onDerived: (ops) => alerts.observe(ops),
    onError(err) {
      if (clock() - lastLoggedError < 10_000) return;
      lastLoggedError = clock();
      logger.error({ err: driverError(err) }, 'derivation: a batch failed; retrying');
    },
  });
  closers.add('derivation', () => consumer.stop());
  return consumer;
}
