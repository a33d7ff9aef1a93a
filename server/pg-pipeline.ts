import { hostname } from 'node:os';
import type { EvaluationReport } from './alerts/engine.js';
import { createPgAlertEngine, type PgAlertEngine } from './alerts/pg-engine.js';
import { createAppApi } from './api/index.js';
import type { MetricsRegistry } from './api/metrics.js';
import type { ReplicasHealth } from './api/routes/health.js';
import type { AppConfig } from './config/apps.js';
import type { Config } from './config.js';
import { startJobs } from './jobs/index.js';
import { pgRetentionJob } from './jobs/pg-retention.js';
import type { AppLinks, RunningApp } from './pipeline.js';
import { createUpstreamState } from './proxy/upstream-state.js';
import { classify } from './scim/classify.js';
import type { IngestStage, OperationRecord, StoredOperation } from './store/ingest.js';
import { pgAdminStore } from './store/pg/admin-store.js';
import { pgDatabase } from './store/pg/db.js';
import { type PgConsumer, type PgDerivationLag, startPgConsumer } from './store/pg/derive/consumer.js';
import { currentLeader } from './store/pg/lease.js';
import { createOperationsLog } from './store/pg/log.js';
import { createPgLogWrite, driverError, isRetryablePgError } from './store/pg/log-write.js';
import { migratePostgres } from './store/pg/migrate.js';
import { createPool, type Pool } from './store/pg/pool.js';
import { pendingEmailCount } from './store/pg/queries/notifications.js';
import { type AsyncRecorder, createAsyncRecorder } from './store/pg/recorder.js';
import { forgetGoneReplicas, listReplicas, startReplicaHeartbeat } from './store/pg/replicas.js';
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
  const { pool, schema } = await openPool(w, url, logger);
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

/**
 * What this replica says of itself in the database every 5 s (pg/replicas.ts), and what /api/health shows of
 * them all: the leader (from the lock itself, not from what the replicas last said), and each replica's state.
 */
function startPresence(
  { clock, closers }: Wiring,
  pool: Pool,
  self: {
    replica: string;
    version: string;
    consumer: PgConsumer;
    recorderStats: () => RecorderStats;
    logger: Wiring['logger'];
  },
): () => Promise<ReplicasHealth> {
  const { replica, version, consumer, logger } = self;
  const startedAt = clock();
  const heartbeat = startReplicaHeartbeat(pool, {
    clock,
    state: () => ({
      replica,
      version,
      leading: consumer.leading,
      recorder: pickRecorder(self.recorderStats()),
      startedAt,
    }),
    onError: (err) => logger.debug({ err: driverError(err) }, 'replica heartbeat failed'),
  });
  closers.add('replica heartbeat', () => heartbeat.stop());
  return async () => ({
    self: replica,
    leader: (await currentLeader(pool))?.replica ?? null,
    replicas: await listReplicas(pool, clock()),
  });
}

const emptyReport = (): EvaluationReport => ({
  findings: 0,
  open: 0,
  resolved: 0,
  emails: [],
  transitions: [],
});

function pickRecorder(s: RecorderStats) {
  const { queued, written, dropped, failing, lastError, lastErrorAt } = s;
  return { queued, written, dropped, failing, lastError, lastErrorAt };
}

/** The pool, with the committed migrations applied under a lock (two replicas starting together take turns). */
/** Until the migrations are applied, nothing may write: the tables may not exist yet. */
export class SchemaPending extends Error {
  constructor() {
    super('the database is not reachable yet: its migrations are not applied');
  }
}

/**
 * The pool, with the committed migrations applied under a lock (two replicas starting together take turns). A
 * database that refuses the settings (a wrong password, no such database) stops scimtap with the reason. One that
 * cannot be reached is an outage like any other: scimtap starts, forwards, and queues what it records, and the
 * migrations are tried again every 5 s; until they are applied nothing writes (`schema.ready()` is false).
 */
async function openPool(
  { config, closers }: Wiring,
  url: string,
  logger: Wiring['logger'],
): Promise<{ pool: Pool; schema: Schema }> {
  const pool = createPool(url, {
    onError: (err) => logger.warn({ err: driverError(err) }, 'database: a connection failed'),
  });
  let ready = false;
  try {
    await migratePostgres(pool);
    ready = true;
  } catch (err) {
    if (!isRetryablePgError(err)) {
      await pool.end().catch(() => {});
      // The driver's message names host and port at most: never the URL, so never its password.
      throw new Error(
        `SCIMTAP_DB (${config.db}): cannot open the PostgreSQL store: ${driverError(err).message}`,
      );
    }
    logger.error(
      { err: driverError(err), db: config.db },
      'database: unreachable at startup; forwarding and queueing, trying again every 5 s',
    );
  }
  const retry = ready ? undefined : setInterval(() => void migrateAgain(), 5_000);
  retry?.unref();
  let trying = false;
  async function migrateAgain(): Promise<void> {
    if (trying || ready) return;
    trying = true;
    try {
      await migratePostgres(pool);
      ready = true;
      clearInterval(retry);
      logger.warn('database: reachable, migrations applied; recording resumes');
    } catch {
      // still unreachable: the recorder says so (failing), and the next try comes
    } finally {
      trying = false;
    }
  }
  closers.add('database pool', async () => {
    clearInterval(retry);
    await pool.end();
  });
  return { pool, schema: { ready: () => ready } };
}

interface Schema {
  ready(): boolean;
}

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

/**
 * prom-client reads gauges synchronously: the lag, a database read, is kept from the last time anyone asked for it
 * (/api/health) or the job every 5 s.
 */
function registerReplicaMetrics(
  metrics: ReturnType<MetricsRegistry['forApp']>,
  consumer: PgConsumer,
  alerts: PgAlertEngine,
  lag: { last: PgDerivationLag | null; pending: number },
): void {
  metrics.gauge('scimtap_leader', '1 while this replica holds the lead (derives, detects, evaluates)', () =>
    consumer.leading ? 1 : 0,
  );
  metrics.gauge('scimtap_incidents_firing', 'Incidents firing now', () => alerts.firingCount());
  // As on SQLite (wiring.ts); a database read, so kept from the last tick, health read or job run (every 5 s).
  metrics.gauge('scimtap_notifications_pending', 'Emails in the outbox not delivered yet', () => lag.pending);
  metrics.gauge(
    'scimtap_derivation_lag_operations',
    'Operations recorded but not yet derived into cycles, identities and detection',
    () => lag.last?.operations ?? 0,
  );
  metrics.gauge(
    'scimtap_derivation_lag_seconds',
    'Age of the oldest operation not yet derived (0 when caught up)',
    () => lag.last?.seconds ?? 0,
  );
}

/** The leader evaluates on a tick; every replica delivers due notifications; the leader forgets gone replicas. */
function startPgJobs(
  w: Wiring,
  deps: {
    pool: Pool;
    alerts: PgAlertEngine;
    consumer: PgConsumer;
    readLag: () => Promise<unknown>;
    readPending: () => Promise<void>;
    logger: Wiring['logger'];
  },
): void {
  const { options, clock, closers, config } = w;
  if (options.periodicJobs === false) return;
  const { pool, alerts, consumer } = deps;
  const jobs = startJobs(
    [
      {
        name: 'alerts.evaluate',
        schedule: { everyMs: 15_000 },
        runAfterStartMs: 0,
        run: () => void alerts.evaluate(),
      },
      {
        // The leader alone sends (alerts/pg-engine.ts): what another replica queued (a test, an
        // acknowledgement) reaches it by this poll, one claim statement every 2 s.
        name: 'notify.deliver',
        schedule: { everyMs: 2_000 },
        runAfterStartMs: 1_000,
        run: async () => {
          await alerts.outbox.deliverDue();
        },
      },
      {
        // What /metrics shows of the database (read synchronously there): the lag, the firing incidents, the
        // emails pending.
        name: 'replica.readings',
        schedule: { everyMs: 5_000 },
        run: async () => {
          await deps.readLag();
          await alerts.firingIncidents();
          await deps.readPending();
        },
      },
      {
        name: 'replicas.forget',
        schedule: { everyMs: 10 * 60_000 },
        run: async () => {
          if (consumer.leading) await forgetGoneReplicas(pool, clock());
        },
      },
      pgRetentionJob({ pool, config, clock, leading: () => consumer.leading }),
    ],
    { logger: deps.logger },
  );
  closers.add('jobs', () => jobs.stop());
}
