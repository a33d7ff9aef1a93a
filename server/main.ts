import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import pino, { type Logger } from 'pino';
import { type AlertEngine, createAlertEngine, type EvaluationReport } from './alerts/engine.js';
import { createAdminApp } from './api/index.js';
import { createMetrics, registerStorageMetrics } from './api/metrics.js';
import { type Closers, createClosers } from './closers.js';
import { adminBaseUrl, type Config, redactUrl, unavailableStore } from './config.js';
import { createClientStage } from './cycles/clients.js';
import { createCycleStage } from './cycles/index.js';
import { createBurstRunner } from './jobs/burst.js';
import { scimtapJobs, startJobs } from './jobs/index.js';
import { packageRoot } from './paths.js';
import { addressSet } from './proxy/cidr.js';
import { createProxy } from './proxy/index.js';
import { closeGracefully, listen, listenerError } from './proxy/server.js';
import { createUpstreamState } from './proxy/upstream-state.js';
import { startCheckpointer } from './store/checkpointer.js';
import { createDropCounter } from './store/counters.js';
import type { Db } from './store/db.js';
import { createDerivation } from './store/derivation.js';
import type { IngestStage } from './store/ingest.js';
import type { LogThread, WriteTurn } from './store/log-thread.js';
import { openConfiguredDatabase } from './store/open.js';
import { emailDeliveryState, pendingEmailCount } from './store/queries/notifications.js';
import type { Recorder, RecorderStats } from './store/recorder.js';
import { startRecording } from './store/recording.js';
import { createStorageGuard } from './store/storage.js';
import { createTermsStage } from './store/terms.js';

export const version: string = JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')).version;

export interface StartOptions {
  clock?: () => number;
  logger?: Logger;
  /** overrides config.upstream (demo mode passes its embedded target here) */
  upstream?: string;
  /** folder of the built dashboard; default dist/web (tests build into a temp folder) */
  webRoot?: string;
  /** recorder queue bound (tests lower it to see drops quickly) */
  recorderMaxQueue?: number;
  /** false: no periodic jobs (detection tick, outbox retry, retention); tests with a fake clock call `tick()` */
  periodicJobs?: boolean;
}

export interface Scimtap {
  proxyUrl: string;
  adminUrl: string;
  db: Db;
  recorder: Recorder;
  logger: Logger;
  alerts: AlertEngine;
  /** the admin listener's app (the security tests enumerate its routes) */
  admin: ReturnType<typeof createAdminApp>;
  /**
   * Runs a pragma on the connection that writes the operations log, which is not `db`'s when a thread writes
   * it (the disk-full tests cap max_page_count there).
   */
  logPragma(statement: string): unknown;
  /** evaluate the rules at the clock's now and deliver due emails (what the periodic jobs do) */
  tick(): Promise<EvaluationReport>;
  stop(): Promise<void>;
}

export { redactUrl };

/** Wire the pipeline (ARCHITECTURE §1) and open both listeners. */
export async function startScimtap(config: Config, options: StartOptions = {}): Promise<Scimtap> {
  const clock = options.clock ?? Date.now;
  const logger = options.logger ?? pino({ level: config.logLevel, base: { app: 'scimtap' } });
  const upstream = options.upstream ?? config.upstream;
  if (!upstream) throw new Error('no upstream: set SCIMTAP_UPSTREAM (or run without it for demo mode)');
  const unavailable = config.store && unavailableStore(config.store);
  if (unavailable) throw new Error(unavailable);

  // Everything opened below registers how to close it here: stop() and a failed start both unwind this stack.
  const closers = createClosers((name, err) => logger.error({ err }, `stopping ${name} failed`));
  try {
    return await wire(closers, upstream);
  } catch (err) {
    await closers.closeAll();
    throw err;
  }

  async function wire(closers: Closers, upstream: string): Promise<Scimtap> {
    const { db, opened } = openStore(config, logger, closers);
    const clients = createClientStage({ db });
    const cycles = createCycleStage({ db, config, clock });
    const upstreamState = createUpstreamState();
    let recorder: Recorder | undefined;
    // The write turn between the log writer thread (created below, for a file database) and this thread's writers.
    let logThread: LogThread | undefined;
    const turn: WriteTurn = {
      tryAcquire: () => logThread?.turn.tryAcquire() ?? true,
      acquire: () => logThread?.turn.acquire(),
      release: () => logThread?.turn.release(),
    };
    const storage = createStorageGuard({
      db,
      path: config.db,
      budgetBytes: config.maxDbMb * 1024 * 1024,
      opened,
      clock,
      onEvent: storageEvents(logger),
      onTick: () => drops.persist(),
      // The cycles stage caches identity rows; budget pruning deletes some, so it reloads (as after a rollback).
      afterPrune: () => (logThread ? logThread.reload() : cycles.onRollback()),
      turn,
    });
    closers.add('storage guard', () => storage.stop());
    // The recorder's own counts, plus what the storage guard knows of the file: both feed recorderFailing.
    const recorderStats = (): RecorderStats => ({
      ...recorder!.stats(),
      fileProblem: storage.fileProblem(),
    });
    /** Drops survive a restart in the meta table; the metric alone would die with the process. */
    const drops = createDropCounter(db, () => recorder, logger);
    /** exchanges the recorder could not write before it stopped (set by its closer) */
    let droppedAtStop = 0;
    closers.add('dropped counter', () => drops.report(droppedAtStop));
    const terms = createTermsStage(db);
    catchUpAtStart(db, [clients, cycles, terms], logger);
    // Links in emails point at the admin listener until it is bound and its port known.
    let linkBase = adminBaseUrl(config);
    // After committed batches: incidents follow the traffic every 500 ms, and are notified once the burst is over
    // (at most 10 s into one that never pauses), so an email counts the whole burst, not the part seen by then.
    const evaluateSoon = createBurstRunner(
      {
        during: () => alerts.evaluateIfFree({ notify: false }),
        after: () => alerts.evaluateIfFree(),
      },
      {
        duringMs: 500,
        quietMs: 500,
        maxWaitMs: 10_000,
        onError: (err) => logger.error({ err }, 'alerts: evaluation failed'),
      },
    );
    // Created before the recorder starts: it replays recent operations to rebuild detection state.
    const alerts = createAlertEngine({
      db,
      config,
      clock,
      logger,
      recorderStats,
      baseUrl: () => linkBase,
      upstream,
      scheduler: evaluateSoon,
      turn,
    });
    closers.add('alerts', async () => {
      evaluateSoon.stop();
      await alerts.stop();
    });
    const metrics = createMetrics({ recorderStats, db });
    metrics.gauge('scimtap_incidents_firing', 'Incidents firing now', () => alerts.firingIncidents().length);
    metrics.gauge('scimtap_notifications_pending', 'Emails in the outbox not delivered yet', () =>
      pendingEmailCount(db),
    );
    registerStorageMetrics(metrics, storage, config.maxDbMb * 1024 * 1024);
    // Derivation (issue 12 §2). The stages that write (clients, cycles and identities, search terms) run where the
    // log is written: on the log writer thread for a file, here for `:memory:`. These ones follow what was
    // derived, after the commit, on this thread, in log order.
    const followers: IngestStage[] = [upstreamState.stage, metrics.stage, alerts.stage, storage.stage];
    const recording = await startRecording({
      db,
      config,
      clock,
      logger,
      maxQueue: options.recorderMaxQueue,
      writers: { clients, cycles, terms },
      followers,
      closers,
      onStopped: (dropped) => {
        droppedAtStop = dropped;
      },
    });
    recorder = recording.recorder;
    logThread = recording.logThread;
    const { consumer, lag } = recording;
    metrics.gauge(
      'scimtap_derivation_lag_operations',
      'Operations recorded but not yet derived into cycles, identities and detection',
      () => lag().operations,
    );
    metrics.gauge(
      'scimtap_derivation_lag_seconds',
      'Age of the oldest operation not yet derived (0 when caught up)',
      () => lag().seconds,
    );
    // What the proxy records goes to `sink`; what tests and shutdown call `flush` on is `recorded`, for which
    // "flushed" means written to the log and derived from it.
    const sink = recorder;
    const recorded: Recorder = {
      ...sink,
      flush() {
        sink.flush();
        consumer?.drain();
      },
    };
    recorder.start();
    consumer?.start();
    storage.start();

    const proxyListener = await startProxy(config, upstream, sink, clock, closers);

    const app = createAdminApp({
      db,
      version,
      mode: config.mode,
      appName: config.appName,
      adminToken: config.adminToken,
      listenHost: config.adminListen.host,
      publicUrl: config.publicUrl,
      recorderStats,
      storageStats: () => storage.stats(),
      droppedTotal: drops.total,
      upstreamState: upstreamState.state,
      emailState: () => emailDeliveryState(db),
      config,
      clock,
      alerts,
      derivationLag: lag,
      metrics: metrics.render,
      webRoot: options.webRoot,
    });
    const adminServer = await openAdmin(config, app, closers);
    const adminAddress = adminServer.address() as { port: number };
    const adminUrl = adminBaseUrl({ adminListen: config.adminListen }, adminAddress.port);
    linkBase = adminBaseUrl(config, adminAddress.port);
    alerts.start();
    const jobs = startJobs(
      options.periodicJobs === false
        ? []
        : scimtapJobs({ db, config, clock, alerts, cycles: logThread ?? cycles }),
      { logger },
    );
    closers.add('jobs', () => jobs.stop());
    logger.info(
      {
        proxy: proxyListener.url,
        upstream: redactUrl(upstream),
        admin: adminUrl,
        db: config.db,
        mode: config.mode,
      },
      'scimtap is forwarding',
    );

    let stopping: Promise<void> | undefined;
    // Newest first: the jobs, the listeners (no new requests), the proxy (in-flight ones finish and enqueue), the
    // recorder (flushed, bounded), derivation, alerts, storage, the dropped counter, the checkpointer, the database.
    const stop = () => {
      stopping ??= closers.closeAll();
      return stopping;
    };

    return {
      proxyUrl: proxyListener.url,
      adminUrl,
      db,
      recorder: recorded,
      logger,
      alerts,
      admin: app,
      logPragma: (statement) => (logThread ? logThread.pragma(statement) : db.$client.pragma(statement)),
      tick: () => alerts.tick(),
      stop,
    };
  }
}

/** Open the database (migrations applied) and its WAL checkpointer; `opened` is the file's identity. */
function openStore(config: Config, logger: Logger, closers: Closers) {
  const db = openConfiguredDatabase(config.db);
  closers.add('database', () => db.$client.close());
  // The file's identity as opened: a later stat of the path that differs means it was deleted or replaced.
  const opened = config.db === ':memory:' ? undefined : statSync(config.db);
  const checkpointer = startCheckpointer(db, config.db, {
    onError: (message) => logger.warn({ message }, 'wal checkpoint failed'),
  });
  closers.add('checkpointer', () => checkpointer.stop());
  return { db, opened };
}

/**
 * What an earlier run recorded but did not derive (it crashed, or was killed while derivation lagged) is derived
 * now, before the alert engine starts: it replays recent operations from the database to rebuild its detection
 * state, so it must find them labelled, and must not then be handed them a second time.
 */
function catchUpAtStart(db: Db, stages: IngestStage[], logger: Logger): void {
  try {
    const caughtUp = createDerivation({ db, stages }).drain();
    if (caughtUp > 0) logger.warn({ operations: caughtUp }, 'derivation: caught up with an earlier run');
  } catch (err) {
    // A disk that cannot take it now (the stages reloaded on rollback): derivation keeps trying once running.
    logger.error({ err }, 'derivation: could not catch up with an earlier run at startup');
  }
}

function storageEvents(logger: Logger) {
  return (event: 'fileProblem' | 'pruned', detail: Record<string, unknown>) => {
    if (event === 'fileProblem') {
      logger.error(
        detail,
        'SCIMTAP_DB: the database file was deleted or replaced while scimtap has it open; what is recorded now is lost at exit. Restart scimtap.',
      );
    } else if ((detail.bodies as number) + (detail.operations as number) > 0) {
      logger.warn(
        detail,
        'storage: pruned the oldest bodies and operations to stay within SCIMTAP_MAX_DB_MB',
      );
    }
  };
}

/** The proxy and its listener; closing lets in-flight requests finish (bounded) so their exchanges are recorded. */
async function startProxy(
  config: Config,
  upstream: string,
  sink: Recorder,
  clock: () => number,
  closers: Closers,
): Promise<Awaited<ReturnType<typeof listen>>> {
  const proxy = createProxy({
    upstream,
    sink,
    timeoutMs: config.upstreamTimeoutMs,
    bodyTimeoutMs: config.bodyTimeoutMs,
    clientConcurrency: config.clientConcurrency,
    captureLimitBytes: config.capture === 'none' ? 0 : config.captureLimitBytes,
    upstreamCa: config.upstreamCa,
    redact: config.capture === 'redacted' ? config.redact : null,
    trustedClients: config.trustedClients ? addressSet(config.trustedClients) : undefined,
    trustedProxies: addressSet(config.trustedProxies),
    clock,
  });
  closers.add('proxy', async () => {
    // A request that raced the listener's close may still be waiting on the upstream: let it finish (bounded) so
    // that its exchange is recorded before the recorder stops, not after the database is closed.
    const inFlightDeadline = Date.now() + 2_000;
    while (proxy.inFlight() > 0 && Date.now() < inFlightDeadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    proxy.close();
    // Aborted upstream requests report their exchange on the next turns of the event loop.
    await new Promise((resolve) => setTimeout(resolve, 20));
  });
  let listener: Awaited<ReturnType<typeof listen>>;
  try {
    listener = await listen(
      {
        ...config.listen,
        bodyTimeoutMs: config.bodyTimeoutMs,
        tls: config.tlsCert && config.tlsKey ? { cert: config.tlsCert, key: config.tlsKey } : undefined,
      },
      proxy.handle,
    );
  } catch (err) {
    throw listenerError('proxy', 'listen', config.listen, err);
  }
  const close = listener.close;
  closers.add('proxy listener', () => close());
  return listener;
}

/** The admin listener: the API, /metrics and the dashboard. */
async function openAdmin(
  config: Config,
  app: ReturnType<typeof createAdminApp>,
  closers: Closers,
): Promise<ReturnType<typeof serve>> {
  let server: ReturnType<typeof serve>;
  try {
    server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
      const s = serve(
        { fetch: app.fetch, hostname: config.adminListen.host, port: config.adminListen.port },
        () => resolve(s),
      );
      s.once('error', reject);
    });
  } catch (err) {
    throw listenerError('admin', 'adminListen', config.adminListen, err);
  }
  closers.add('admin listener', () => closeGracefully(server as import('node:http').Server, 2_000));
  return server;
}
