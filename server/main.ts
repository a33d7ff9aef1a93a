import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import pino, { type Logger } from 'pino';
import { type AlertEngine, createAlertEngine, type EvaluationReport } from './alerts/engine.js';
import { createAdminApp } from './api/index.js';
import { createMetrics, registerStorageMetrics } from './api/metrics.js';
import { adminBaseUrl, type Config, redactUrl, unavailableStore } from './config.js';
import { createClientStage } from './cycles/clients.js';
import { createCycleStage } from './cycles/index.js';
import { createBurstRunner } from './jobs/burst.js';
import { scimtapJobs, startJobs } from './jobs/index.js';
import { packageRoot } from './paths.js';
import { addressSet } from './proxy/cidr.js';
import { createProxy, REFUSED_REASON } from './proxy/index.js';
import { closeGracefully, listen } from './proxy/server.js';
import { classify } from './scim/classify.js';
import { startCheckpointer } from './store/checkpointer.js';
import { type Consumer, startConsumer } from './store/consumer.js';
import { droppedTotalKey, readCounter, writeCounter } from './store/counters.js';
import type { Db } from './store/db.js';
import { createDerivation, createLagReader } from './store/derivation.js';
import { createLogWriter, type IngestStage } from './store/ingest.js';
import { type LogThread, startLogThread, type WriteTurn } from './store/log-thread.js';
import { openConfiguredDatabase } from './store/open.js';
import { emailDeliveryState, pendingEmailCount } from './store/queries/notifications.js';
import { createRecorder, type Recorder, type RecorderStats } from './store/recorder.js';
import { budgetPlan, createStorageGuard } from './store/storage.js';
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

  const db = openConfiguredDatabase(config.db);
  // The file's identity as opened: a later stat of the path that differs means it was deleted or replaced.
  const opened = config.db === ':memory:' ? undefined : statSync(config.db);
  const droppedBefore = readCounter(db, droppedTotalKey);
  if (droppedBefore > 0) {
    logger.warn(
      { droppedTotal: droppedBefore },
      'recorder: exchanges dropped by earlier runs (not recorded)',
    );
  }
  const checkpointer = startCheckpointer(db, config.db, {
    onError: (message) => logger.warn({ message }, 'wal checkpoint failed'),
  });
  const clients = createClientStage({ db });
  const cycles = createCycleStage({ db, config, clock });
  let lastUpstream: 'reachable' | 'unreachable' | 'unknown' = 'unknown';
  const upstreamStage: IngestStage = {
    afterCommit(ops) {
      const last = ops[ops.length - 1];
      // a request scimtap refused (a dot-segment path) or throttled itself never reached the upstream: it says
      // nothing of it
      if (
        !last ||
        last.errorCode === 'ClientAborted' ||
        last.errorCode === 'ClientThrottled' ||
        last.reason?.startsWith(REFUSED_REASON)
      )
        return;
      lastUpstream =
        last.errorCode === 'UpstreamUnreachable' || last.errorCode === 'Timeout'
          ? 'unreachable'
          : 'reachable';
    },
  };
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
    onEvent(event, detail) {
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
    },
    onTick: () => persistDropped(),
    // The cycles stage caches identity rows; budget pruning deletes some, so it reloads (as after a rollback).
    afterPrune: () => (logThread ? logThread.reload() : cycles.onRollback()),
    turn,
  });
  // The recorder's own counts, plus what the storage guard knows of the file: both feed recorderFailing.
  const recorderStats = (): RecorderStats => ({
    ...recorder!.stats(),
    fileProblem: storage.fileProblem(),
  });
  let persistedDropped = droppedBefore;
  /** Drops survive a restart in the meta table; the metric alone would die with the process. */
  const persistDropped = () => {
    const total = droppedBefore + (recorder?.stats().dropped ?? 0);
    if (total === persistedDropped) return true;
    try {
      writeCounter(db, droppedTotalKey, total);
      persistedDropped = total;
      return true;
    } catch {
      return false;
    }
  };
  // What an earlier run recorded but did not derive (it crashed, or was killed while derivation lagged) is
  // derived now, before the alert engine starts: it replays recent operations from the database to rebuild its
  // detection state, so it must find them labelled, and must not then be handed them a second time.
  const terms = createTermsStage(db);
  try {
    const caughtUp = createDerivation({ db, stages: [clients, cycles, terms] }).drain();
    if (caughtUp > 0) logger.warn({ operations: caughtUp }, 'derivation: caught up with an earlier run');
  } catch (err) {
    // A disk that cannot take it now (the stages reloaded on rollback): derivation keeps trying once running.
    logger.error({ err }, 'derivation: could not catch up with an earlier run at startup');
  }
  // Links in emails point at the admin listener until it is bound and its port known.
  let linkBase = adminBaseUrl(config);
  // After committed batches: incidents follow the traffic every 500 ms, and are notified once the burst is over
  // (at most 10 s into one that never pauses), so an email counts the whole burst, not the part seen by then.
  const evaluateSoon = createBurstRunner(
    { during: () => alerts.evaluate(undefined, { notify: false }), after: () => alerts.evaluate() },
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
  const metrics = createMetrics({ recorderStats, db });
  metrics.gauge('scimtap_incidents_firing', 'Incidents firing now', () => alerts.firingIncidents().length);
  metrics.gauge('scimtap_notifications_pending', 'Emails in the outbox not delivered yet', () =>
    pendingEmailCount(db),
  );
  registerStorageMetrics(metrics, storage, config.maxDbMb * 1024 * 1024);
  const classifyOptions = {
    capture: config.capture,
    redact: config.redact,
    captureLimitBytes: config.captureLimitBytes,
  };
  // Derivation (issue 12 §2). The stages that write (clients, cycles and identities, search terms) run where the
  // log is written: on the log writer thread for a file, here for `:memory:`. These ones follow what was
  // derived, after the commit, on this thread, in log order.
  const followers: IngestStage[] = [upstreamStage, metrics.stage, alerts.stage, storage.stage];
  let lastLoggedError = 0;
  let lastLoggedDerivationError = 0;
  const onDerivationError = (err: unknown) => {
    if (clock() - lastLoggedDerivationError < 10_000) return;
    lastLoggedDerivationError = clock();
    logger.error({ err, lag: lag() }, 'derivation: cannot derive from the operations log');
  };
  const onRecorderError = (err: unknown, retryable: boolean) => {
    // A failing disk would otherwise log ten times a second.
    if (clock() - lastLoggedError < 10_000) return;
    lastLoggedError = clock();
    logger.error({ err, retryable, stats: recorder?.stats() }, 'recorder: cannot write to the database');
  };
  const readLag = createLagReader(db);
  // The consumer that derives what the log writer could not derive as it wrote (memory mode); the thread has its own.
  let consumer: Consumer | undefined;
  const lag = () => readLag(clock());
  // Recording (issue 12 §1): a file database is written by the log writer thread, so classification, the insert
  // and derivation cost the proxy's thread nothing; an in-memory one cannot be shared with a thread.
  if (config.db === ':memory:') {
    const derivation = createDerivation({
      db,
      // Small: a batch holds the event loop while it runs, so it bounds what catching up adds to a request.
      batchSize: 64,
      // Clients first: every later stage reads whose request it was.
      stages: [clients, cycles, terms, ...followers],
    });
    const memoryConsumer = startConsumer({ derivation, clock, onError: onDerivationError });
    consumer = memoryConsumer;
    const writeLog = createLogWriter({
      db,
      classify: (exchange) => classify(exchange, classifyOptions),
      derivation,
    });
    recorder = createRecorder({
      write(batch) {
        if (!writeLog(batch).derived) memoryConsumer.kick();
      },
      clock,
      maxQueue: options.recorderMaxQueue,
      onError: onRecorderError,
    });
  } else {
    logThread = startLogThread({
      dbPath: config.db,
      classify: classifyOptions,
      cycles: config,
      maxQueue: options.recorderMaxQueue,
      walLimitBytes: budgetPlan(config.maxDbMb * 1024 * 1024).walLimitBytes,
      clock,
      onDerived(ops) {
        for (const stage of followers) stage.afterCommit?.(ops);
      },
      onError: onRecorderError,
      onDerivationError: (message) => onDerivationError(new Error(message)),
    });
    recorder = logThread;
    // Forward only once recording works, as before the thread: the first exchange must not wait on its start.
    // A thread that cannot start costs drops (counted, recorderFailing), never forwarding.
    await logThread.ready.catch((err) =>
      logger.error(
        { err },
        'recorder: the log writer thread did not start; exchanges are dropped and counted',
      ),
    );
  }
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
  // A listener that cannot bind undoes what is already open, in reverse order, or an open handle would keep a
  // process that failed to start alive.
  const undoStart = async () => {
    proxy.close();
    recorder.stop();
    await logThread?.close();
    consumer?.stop();
    storage.stop();
    await checkpointer.stop();
    db.$client.close();
  };
  let proxyListener: Awaited<ReturnType<typeof listen>>;
  try {
    proxyListener = await listen(
      {
        ...config.listen,
        bodyTimeoutMs: config.bodyTimeoutMs,
        tls: config.tlsCert && config.tlsKey ? { cert: config.tlsCert, key: config.tlsKey } : undefined,
      },
      proxy.handle,
    );
  } catch (err) {
    await undoStart();
    throw listenerError('proxy', 'listen', config.listen, err);
  }

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
    droppedTotal: () => droppedBefore + (recorder?.stats().dropped ?? 0),
    upstreamState: () => lastUpstream,
    emailState: () => emailDeliveryState(db),
    config,
    clock,
    alerts,
    derivationLag: lag,
    metrics: metrics.render,
    webRoot: options.webRoot,
  });
  let adminServer: ReturnType<typeof serve>;
  try {
    adminServer = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
      const server = serve(
        { fetch: app.fetch, hostname: config.adminListen.host, port: config.adminListen.port },
        () => resolve(server),
      );
      server.once('error', reject);
    });
  } catch (err) {
    await proxyListener.close();
    await undoStart();
    throw listenerError('admin', 'adminListen', config.adminListen, err);
  }
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
  const stop = () => {
    stopping ??= (async () => {
      // Order matters: stop taking requests, let in-flight ones finish (they enqueue), then flush, then close.
      await Promise.all([
        proxyListener.close(),
        closeGracefully(adminServer as import('node:http').Server, 2_000),
      ]);
      await jobs.stop();
      // A request that raced the listener's close may still be waiting on the upstream: let it finish (bounded)
      // so that its exchange is recorded before the recorder stops, not after the database is closed.
      const inFlightDeadline = Date.now() + 2_000;
      while (proxy.inFlight() > 0 && Date.now() < inFlightDeadline) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      proxy.close();
      // Aborted upstream requests report their exchange on the next turns of the event loop.
      await new Promise((resolve) => setTimeout(resolve, 20));
      // Bounded: a disk that cannot take the queue must not hold the shutdown. What is left is counted.
      const droppedAtStop = recorder.stop({ deadlineMs: 5_000 });
      await logThread?.close();
      // Derive what the log got, so the next start has nothing to catch up on (a crash would only delay it). The
      // log writer thread did so for its own before it stopped.
      consumer?.stop();
      try {
        consumer?.drain();
      } catch (err) {
        logger.error(
          { err },
          'derivation: not caught up at shutdown; the next start resumes from its cursor',
        );
      }
      evaluateSoon.stop();
      await alerts.stop();
      storage.stop();
      const { dropped, written } = recorder.stats();
      const droppedTotal = droppedBefore + dropped;
      const persisted = persistDropped();
      if (droppedAtStop > 0 || !persisted) {
        // The log line is the record of last resort when the database cannot take the counter either.
        logger.error(
          { droppedAtStop, dropped, droppedTotal, persisted },
          'recorder: exchanges could not be written before shutdown (counted as dropped)',
        );
      }
      await checkpointer.stop();
      db.$client.close();
      logger.info({ written, dropped, droppedTotal }, 'scimtap stopped');
    })();
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

/** A listener that cannot bind, named with the setting that moves it. */
function listenerError(
  which: 'proxy' | 'admin',
  key: 'listen' | 'adminListen',
  { host, port }: { host: string; port: number },
  err: unknown,
): Error {
  const setting = key === 'listen' ? 'SCIMTAP_LISTEN (--listen)' : 'SCIMTAP_ADMIN_LISTEN (--admin-listen)';
  const code = (err as NodeJS.ErrnoException).code;
  const hint =
    code === 'EADDRINUSE'
      ? `: the port is in use; stop what holds it, or choose another port with ${setting}`
      : code === 'EACCES'
        ? `: not allowed to bind this port (below 1024 needs privileges); choose another with ${setting}`
        : code === 'EADDRNOTAVAIL'
          ? `: this host has no such address; fix ${setting}`
          : ` (${setting})`;
  return new Error(`${which} listener ${host}:${port}: ${(err as Error).message}${hint}`);
}
