import type { AlertEngine, EvaluationReport } from './alerts/engine.js';
import { type AdminApi, createAppApi } from './api/index.js';
import type { Metrics, MetricsRegistry } from './api/metrics.js';
import type { AppConfig } from './config/apps.js';
import type { Config } from './config.js';
import { createClientStage } from './cycles/clients.js';
import { createCycleStage } from './cycles/index.js';
import type { ScimProxy } from './proxy/index.js';
import { createUpstreamState } from './proxy/upstream-state.js';
import type { Exchange } from './scim/types.js';
import { sqliteAdminStore } from './store/admin-store.js';
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
  createAppProxy,
  createScimtapMetrics,
  flushedThroughDerivation,
  guardStorage,
  openStore,
  registerLagMetrics,
  startAlerts,
  startPeriodicJobs,
  type Wiring,
} from './wiring.js';

// One app's pipeline (ARCHITECTURE §1): its store, recorder and log writer, derivation, alerts and outbox, its
// proxy and its /api routes. Each app of the `apps` list runs one, on its own database, so that one app's flood,
// slow upstream or full queue changes nothing for another (issue 14); the listeners in front are shared.

/** The recorder as tests and shutdown see it: "flushed" means written to the log and derived from it. */
export interface PipelineRecorder {
  record(exchange: Exchange): void;
  flush(): void | Promise<void>;
  stats(): RecorderStats;
}

/** One app's running pipeline, whichever its store: what the fleet and the listeners use. */
export interface RunningApp {
  app: AppConfig;
  /** the configuration this app runs with (config/apps.ts forApp) */
  config: Config;
  recorder: PipelineRecorder;
  /** evaluate the rules now and deliver due notifications (what the periodic jobs do) */
  tick(): Promise<EvaluationReport>;
  proxy: ScimProxy;
  api: AdminApi;
  /** once the admin listener is bound: links in emails use its port, then alerts and jobs start */
  open(adminPort: number): void;
}

/** One app's pipeline on SQLite (on PostgreSQL: pg-pipeline.ts). */
export interface Pipeline extends RunningApp {
  store: 'sqlite';
  db: Db;
  recorder: Recorder;
  alerts: AlertEngine;
  /** a pragma on the SQLite connection that writes the log */
  logPragma(statement: string): unknown;
}

/** Where an app's pages and API are, from the admin listener's port (unknown until it is bound). */
export interface AppLinks {
  dashboard(port?: number): string;
  /** with several apps: the API's URL and the app's id, for the silence command in emails */
  api?: (port?: number) => { url: string; app: string };
}

/** `w` is this app's wiring: its config (forApp), upstream, logger and links. */
export async function startPipeline(
  w: Wiring & { links: AppLinks },
  app: AppConfig,
  registry: MetricsRegistry,
  version: string,
): Promise<Pipeline> {
  const { config, options, clock, logger, closers, upstream, links } = w;
  const { db, opened } = openStore(w);
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
  const recorderStats = (): RecorderStats => ({ ...recorder!.stats(), fileProblem: storage.fileProblem() });
  /** Drops survive a restart in the meta table; the metric alone would die with the process. */
  const drops = createDropCounter(db, () => recorder, logger);
  /** exchanges the recorder could not write before it stopped (set by its closer) */
  let droppedAtStop = 0;
  closers.add('dropped counter', () => drops.report(droppedAtStop));
  const terms = createTermsStage(db);
  catchUpAtStart(db, [clients, cycles, terms], logger);
  // Links in emails point at the admin listener until it is bound and its port known.
  let adminPort: number | undefined;
  const api = links.api;
  const alerts = startAlerts(w, {
    db,
    recorderStats,
    baseUrl: () => links.dashboard(adminPort),
    api: api && (() => api(adminPort)),
    turn,
  });
  const metrics = createScimtapMetrics(config, registry.forApp(app.id, { recorderStats, db }), {
    db,
    alerts,
    storage,
  });
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
    logHost: w.logHost,
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
  recorder.start();
  consumer?.start();
  storage.start();
  const proxy = createAppProxy(config, upstream, sink, clock, closers);
  const appRoutes = appApi(w, app.id, version, {
    db,
    recorderStats,
    storage,
    drops,
    upstreamState,
    alerts,
    lag,
  });
  return {
    store: 'sqlite',
    app,
    config,
    db,
    recorder: flushedThroughDerivation(sink, consumer),
    alerts,
    tick: () => alerts.tick(),
    proxy,
    api: appRoutes,
    logPragma: (statement) => (logThread ? logThread.pragma(statement) : db.$client.pragma(statement)),
    open(port) {
      adminPort = port;
      alerts.start();
      startPeriodicJobs(w, { db, alerts, cycles: logThread ?? cycles });
    },
  };
}

/** The app's /api routes over what its pipeline knows. */
function appApi(
  { config, clock }: Wiring,
  appId: string,
  version: string,
  deps: {
    db: Db;
    recorderStats: () => RecorderStats;
    storage: StorageGuard;
    drops: DropCounter;
    upstreamState: ReturnType<typeof createUpstreamState>;
    alerts: AlertEngine;
    lag: () => DerivationLag;
  },
): AdminApi {
  const { db, storage } = deps;
  return createAppApi({
    store: sqliteAdminStore(db),
    version,
    mode: config.mode,
    appName: config.appName,
    appId,
    recorderStats: deps.recorderStats,
    storageStats: () => storage.stats(),
    droppedTotal: deps.drops.total,
    upstreamState: deps.upstreamState.state,
    emailState: () => emailDeliveryState(db),
    config,
    clock,
    alerts: deps.alerts,
    derivationLag: deps.lag,
  });
}

export type { Metrics };
