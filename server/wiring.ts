import { statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { serve } from '@hono/node-server';
import type { Logger } from 'pino';
import { type AlertEngine, createAlertEngine } from './alerts/engine.js';
import type { createAdminApp } from './api/index.js';
import { type Metrics, registerStorageMetrics } from './api/metrics.js';
import type { Closers } from './closers.js';
import type { Config } from './config.js';
import type { StaleCycles } from './cycles/jobs.js';
import { createBurstRunner } from './jobs/burst.js';
import { scimtapJobs, startJobs } from './jobs/index.js';
import type { StartOptions } from './main.js';
import { addressSet } from './proxy/cidr.js';
import { createProxy, type ExchangeSink, type ScimProxy } from './proxy/index.js';
import { closeGracefully, listen, listenerError } from './proxy/server.js';
import { type Checkpointers, startCheckpointer } from './store/checkpointer.js';
import type { Consumer } from './store/consumer.js';
import type { Db } from './store/db.js';
import { createDerivation, type DerivationLag } from './store/derivation.js';
import type { IngestStage } from './store/ingest.js';
import type { LogHost } from './store/log-host.js';
import type { WriteTurn } from './store/log-thread.js';
import { openConfiguredDatabase } from './store/open.js';
import { pendingEmailCount } from './store/queries/notifications.js';
import type { Recorder, RecorderStats } from './store/recorder.js';
import { createStorageGuard, type StorageGuard, type StorageGuardOptions } from './store/storage.js';

/**
 * The steps startScimtap (main.ts) wires the pipeline with, in the order it runs them. Each one that opens something
 * pushes its closer onto the one stack (closers.ts) as soon as it is open.
 */

/**
 * What every wiring step may need: the start's settings and the closer stack it pushes onto (an app's steps push
 * onto that app's own stack, fleet.ts, so that a reload can stop it alone).
 */
export interface Wiring {
  config: Config;
  options: StartOptions;
  clock: () => number;
  logger: Logger;
  closers: Closers;
  upstream: string;
  /** how many apps the process runs (at start): their alert engines share the one thread */
  apps?: number;
  /** the log writer thread every app's recording shares (issue 14); without it, each app starts its own */
  logHost?: LogHost;
  /** the WAL checkpointer thread every app's database shares; without it, each app starts its own */
  checkpointers?: Checkpointers;
}

/** Open the database (migrations applied) and its WAL checkpointer; `opened` is the file's identity. */
export function openStore({ config, logger, closers, checkpointers }: Wiring) {
  const db = openConfiguredDatabase(config.db);
  closers.add('database', () => db.$client.close());
  // The file's identity as opened: a later stat of the path that differs means it was deleted or replaced.
  const opened = config.db === ':memory:' ? undefined : statSync(config.db);
  const onError = (message: string) => logger.warn({ message }, 'wal checkpoint failed');
  const checkpointer = (checkpointers?.start ?? startCheckpointer)(db, config.db, { onError });
  closers.add('checkpointer', () => checkpointer.stop());
  return { db, opened };
}

/** The storage guard: the database's size budget (pruning the oldest) and the file's identity. */
export function guardStorage(
  { config, logger, clock, closers }: Wiring,
  db: Db,
  opened: StorageGuardOptions['opened'],
  turn: WriteTurn,
  hooks: Pick<StorageGuardOptions, 'onTick' | 'afterPrune'>,
): StorageGuard {
  const storage = createStorageGuard({
    db,
    path: config.db,
    budgetBytes: config.maxDbMb * 1024 * 1024,
    opened,
    clock,
    onEvent: storageEvents(logger),
    onTick: hooks.onTick,
    afterPrune: hooks.afterPrune,
    turn,
  });
  closers.add('storage guard', () => storage.stop());
  return storage;
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

/**
 * What an earlier run recorded but did not derive (it crashed, or was killed while derivation lagged) is derived
 * now, before the alert engine starts: it replays recent operations from the database to rebuild its detection
 * state, so it must find them labelled, and must not then be handed them a second time.
 */
export function catchUpAtStart(db: Db, stages: IngestStage[], logger: Logger): void {
  try {
    const caughtUp = createDerivation({ db, stages }).drain();
    if (caughtUp > 0) logger.warn({ operations: caughtUp }, 'derivation: caught up with an earlier run');
  } catch (err) {
    // A disk that cannot take it now (the stages reloaded on rollback): derivation keeps trying once running.
    logger.error({ err }, 'derivation: could not catch up with an earlier run at startup');
  }
}

/**
 * The alert engine, evaluated after committed batches: incidents follow the traffic every 500 ms, and are notified
 * once the burst is over (at most 10 s into one that never pauses), so an email counts the whole burst, not the
 * part seen by then. Created before the recorder starts: it replays recent operations to rebuild detection state.
 */
export function startAlerts(
  w: Wiring,
  deps: {
    db: Db;
    recorderStats: () => RecorderStats;
    baseUrl: () => string;
    api?: () => { url: string; app: string };
    turn: WriteTurn;
  },
): AlertEngine {
  const { config, clock, logger, closers, upstream } = w;
  const evaluateSoon = createBurstRunner(
    {
      during: () => alerts.evaluateIfFree({ notify: false }),
      after: () => alerts.evaluateIfFree(),
    },
    {
      // Every app's engine evaluates on this one thread: with many apps, each follows a burst less often, so
      // that together they evaluate about twice a second (at most every 5 s each); the email after the burst
      // is not delayed by it.
      duringMs: 500 * Math.min(10, Math.max(1, w.apps ?? 1)),
      quietMs: 500,
      maxWaitMs: 10_000,
      onError: (err) => logger.error({ err }, 'alerts: evaluation failed'),
    },
  );
  const alerts = createAlertEngine({
    db: deps.db,
    config,
    clock,
    logger,
    recorderStats: deps.recorderStats,
    baseUrl: deps.baseUrl,
    api: deps.api,
    upstream,
    scheduler: evaluateSoon,
    turn: deps.turn,
  });
  closers.add('alerts', async () => {
    evaluateSoon.stop();
    await alerts.stop();
  });
  return alerts;
}

/**
 * One app's /metrics (`metrics`: its view of the registry, with the recorder's and the database's): incidents,
 * the outbox and storage added (derivation lag comes later).
 */
export function createScimtapMetrics(
  config: Config,
  metrics: Metrics,
  deps: { db: Db; alerts: AlertEngine; storage: StorageGuard },
): Metrics {
  const { db, alerts } = deps;
  metrics.gauge('scimtap_incidents_firing', 'Incidents firing now', () => alerts.firingIncidents().length);
  metrics.gauge('scimtap_notifications_pending', 'Emails in the outbox not delivered yet', () =>
    pendingEmailCount(db),
  );
  registerStorageMetrics(metrics, deps.storage, config.maxDbMb * 1024 * 1024);
  return metrics;
}

/** The derivation lag gauges, once the recording (which reads the lag) has started. */
export function registerLagMetrics(metrics: Metrics, lag: () => DerivationLag): void {
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
}

/** The recorder as tests and shutdown see it: "flushed" means written to the log and derived from it. */
export function flushedThroughDerivation(sink: Recorder, consumer: Consumer | undefined): Recorder {
  return {
    ...sink,
    flush() {
      sink.flush();
      consumer?.drain();
    },
  };
}

/**
 * One app's proxy: its own upstream pool and client admission, so that one app's slow or dead upstream cannot take
 * another's sockets or slots (issue 14). Closing lets in-flight requests finish (bounded) so their exchanges are
 * recorded.
 */
export function createAppProxy(
  config: Config,
  upstream: string,
  sink: ExchangeSink,
  clock: () => number,
  closers: Closers,
): ScimProxy {
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
  return proxy;
}

/** The proxy listener, in front of every app's proxy (proxy/router.ts says which app a request is for). */
export async function listenProxy(
  config: Config,
  handle: (req: IncomingMessage, res: ServerResponse) => void,
  closers: Closers,
): Promise<Awaited<ReturnType<typeof listen>>> {
  let listener: Awaited<ReturnType<typeof listen>>;
  try {
    listener = await listen(
      {
        ...config.listen,
        bodyTimeoutMs: config.bodyTimeoutMs,
        tls: config.tlsCert && config.tlsKey ? { cert: config.tlsCert, key: config.tlsKey } : undefined,
      },
      handle,
    );
  } catch (err) {
    throw listenerError('proxy', 'listen', config.listen, err);
  }
  const close = listener.close;
  closers.add('proxy listener', () => close());
  return listener;
}

/** The admin listener: the API, /metrics and the dashboard. */
export async function openAdmin(
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

/** Detection ticks, outbox retries and retention; none when the start asked for none (tests call `tick()`). */
export function startPeriodicJobs(
  { config, options, clock, logger, closers }: Wiring,
  deps: { db: Db; alerts: AlertEngine; cycles: StaleCycles },
): void {
  const jobs = startJobs(
    options.periodicJobs === false
      ? []
      : scimtapJobs({ db: deps.db, config, clock, alerts: deps.alerts, cycles: deps.cycles }),
    { logger },
  );
  closers.add('jobs', () => jobs.stop());
}
