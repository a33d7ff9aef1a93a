import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import type { AlertEngine, EvaluationReport } from './alerts/engine.js';
import { createAdminApp } from './api/index.js';
import type { Metrics } from './api/metrics.js';
import { createClosers } from './closers.js';
import { adminBaseUrl, type Config, redactUrl, unavailableStore } from './config.js';
import { createClientStage } from './cycles/clients.js';
import { createCycleStage } from './cycles/index.js';
import { packageRoot } from './paths.js';
import { createUpstreamState } from './proxy/upstream-state.js';
import { createDropCounter, type DropCounter } from './store/counters.js';
import type { Db } from './store/db.js';
import type { DerivationLag } from './store/derivation.js';
import type { IngestStage } from './store/ingest.js';
import type { LogThread, WriteTurn } from './store/log-thread.js';
import { emailDeliveryState } from './store/queries/notifications.js';
import type { Recorder, RecorderStats } from './store/recorder.js';
import { startRecording } from './store/recording.js';
import type { StorageGuard } from './store/storage.js';
import { createTermsStage } from './store/terms.js';
import {
  catchUpAtStart,
  createScimtapMetrics,
  flushedThroughDerivation,
  guardStorage,
  openAdmin,
  openStore,
  registerLagMetrics,
  startAlerts,
  startPeriodicJobs,
  startProxy,
  type Wiring,
} from './wiring.js';

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
    return await wire({ config, options, clock, logger, closers, upstream });
  } catch (err) {
    await closers.closeAll();
    throw err;
  }
}

/** The order of the steps is the order of startup, so (through `closers`) the order of shutdown reversed. */
async function wire(w: Wiring): Promise<Scimtap> {
  const { config, options, clock, logger, closers, upstream } = w;
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
  const storage = guardStorage(w, db, opened, turn, {
    onTick: () => drops.persist(),
    // The cycles stage caches identity rows; budget pruning deletes some, so it reloads (as after a rollback).
    afterPrune: () => (logThread ? logThread.reload() : cycles.onRollback()),
  });
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
  const alerts = startAlerts(w, { db, recorderStats, baseUrl: () => linkBase, turn });
  const metrics = createScimtapMetrics(config, { db, recorderStats, alerts, storage });
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
  registerLagMetrics(metrics, lag);
  // What the proxy records goes to `sink`; what tests and shutdown call `flush` on is `recorded`.
  const sink = recorder;
  const recorded = flushedThroughDerivation(sink, consumer);
  recorder.start();
  consumer?.start();
  storage.start();

  const proxyListener = await startProxy(config, upstream, sink, clock, closers);

  const app = adminApp(w, { db, recorderStats, storage, drops, upstreamState, alerts, lag, metrics });
  const adminServer = await openAdmin(config, app, closers);
  const adminAddress = adminServer.address() as { port: number };
  const adminUrl = adminBaseUrl({ adminListen: config.adminListen }, adminAddress.port);
  linkBase = adminBaseUrl(config, adminAddress.port);
  alerts.start();
  startPeriodicJobs(w, { db, alerts, cycles: logThread ?? cycles });
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

/** The admin API, /metrics and the dashboard, over what the pipeline knows. */
function adminApp(
  { config, clock, options }: Wiring,
  deps: {
    db: Db;
    recorderStats: () => RecorderStats;
    storage: StorageGuard;
    drops: DropCounter;
    upstreamState: ReturnType<typeof createUpstreamState>;
    alerts: AlertEngine;
    lag: () => DerivationLag;
    metrics: Metrics;
  },
): ReturnType<typeof createAdminApp> {
  const { db, storage } = deps;
  return createAdminApp({
    db,
    version,
    mode: config.mode,
    appName: config.appName,
    adminToken: config.adminToken,
    listenHost: config.adminListen.host,
    publicUrl: config.publicUrl,
    recorderStats: deps.recorderStats,
    storageStats: () => storage.stats(),
    droppedTotal: deps.drops.total,
    upstreamState: deps.upstreamState.state,
    emailState: () => emailDeliveryState(db),
    config,
    clock,
    alerts: deps.alerts,
    derivationLag: deps.lag,
    metrics: deps.metrics.render,
    webRoot: options.webRoot,
  });
}
