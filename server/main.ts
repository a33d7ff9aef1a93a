import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import type { Hono } from 'hono';
import pino, { type Logger } from 'pino';
import { type AlertEngine, createAlertEngine, type EvaluationReport } from './alerts/engine.js';
import { firingIncidentViews } from './alerts/views.js';
import { createAdminApp } from './api/index.js';
import { createMetrics } from './api/metrics.js';
import { cycleOutcomeRoutes } from './api/routes/cycle-outcomes.js';
import { cycleRoutes } from './api/routes/cycles.js';
import { identityRoutes } from './api/routes/identities.js';
import { incidentRoutes } from './api/routes/incidents.js';
import { notificationRoutes } from './api/routes/notifications.js';
import { silenceRoutes } from './api/routes/silences.js';
import { statusRoutes } from './api/routes/status.js';
import { timeseriesRoutes } from './api/routes/timeseries.js';
import { adminBaseUrl, type Config } from './config.js';
import { createCycleStage } from './cycles/index.js';
import { scimtapJobs, startJobs } from './jobs/index.js';
import { emailDeliveryState, pendingEmailCount } from './notify/queries.js';
import { packageRoot } from './paths.js';
import { createProxy } from './proxy/index.js';
import { closeGracefully, listen } from './proxy/server.js';
import { classify } from './scim/classify.js';
import { startCheckpointer } from './store/checkpointer.js';
import type { Db } from './store/db.js';
import { createIngest, type IngestStage } from './store/ingest.js';
import { openConfiguredDatabase } from './store/open.js';
import { createRecorder, type Recorder } from './store/recorder.js';
import { createTermsStage } from './store/terms.js';

export const version: string = JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')).version;

export interface StartOptions {
  clock?: () => number;
  logger?: Logger;
  /** overrides config.upstream (demo mode passes its embedded target here) */
  upstream?: string;
  /** extra ingest stages and API route groups, wired by later pipeline stages */
  stages?: IngestStage[];
  extraApi?: Record<string, Hono>;
  /** folder of the built dashboard; default dist/web (tests build into a temp folder) */
  webRoot?: string;
  /** recorder queue bound (tests lower it to see drops quickly) */
  recorderMaxQueue?: number;
  /** firing incidents for /api/status; default: the alert engine's */
  firingIncidents?: () => unknown[];
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
  /** evaluate the rules at the clock's now and deliver due emails (what the periodic jobs do) */
  tick(): Promise<EvaluationReport>;
  stop(): Promise<void>;
}

/** Wire the pipeline (ARCHITECTURE §1) and open both listeners. */
export async function startScimtap(config: Config, options: StartOptions = {}): Promise<Scimtap> {
  const clock = options.clock ?? Date.now;
  const logger = options.logger ?? pino({ level: config.logLevel, base: { app: 'scimtap' } });
  const upstream = options.upstream ?? config.upstream;
  if (!upstream) throw new Error('no upstream: set SCIMTAP_UPSTREAM (or run without it for demo mode)');

  const db = openConfiguredDatabase(config.db);
  const checkpointer = startCheckpointer(db, config.db, {
    onError: (message) => logger.warn({ message }, 'wal checkpoint failed'),
  });
  const cycles = createCycleStage({ db, config, clock });
  let lastUpstream: 'reachable' | 'unreachable' | 'unknown' = 'unknown';
  const upstreamStage: IngestStage = {
    afterCommit(ops) {
      const last = ops[ops.length - 1];
      if (!last || last.errorCode === 'ClientAborted') return;
      lastUpstream =
        last.errorCode === 'UpstreamUnreachable' || last.errorCode === 'Timeout'
          ? 'unreachable'
          : 'reachable';
    },
  };
  let recorder: Recorder | undefined;
  const recorderStats = () => recorder!.stats();
  // Links in emails point at the admin listener until it is bound and its port known.
  let linkBase = adminBaseUrl(config);
  // Created before the recorder starts: it replays recent operations to rebuild detection state.
  const alerts = createAlertEngine({
    db,
    config,
    clock,
    logger,
    recorderStats,
    baseUrl: () => linkBase,
    upstream,
  });
  const metrics = createMetrics({ recorderStats, db });
  metrics.gauge('scimtap_incidents_firing', 'Incidents firing now', () => alerts.firingIncidents().length);
  metrics.gauge('scimtap_notifications_pending', 'Emails in the outbox not delivered yet', () =>
    pendingEmailCount(db),
  );
  const classifyOptions = { capture: config.capture, redact: config.redact };
  const write = createIngest({
    db,
    classify: (exchange) => classify(exchange, classifyOptions),
    stages: [
      cycles,
      upstreamStage,
      metrics.stage,
      alerts.stage,
      createTermsStage(db),
      ...(options.stages ?? []),
    ],
  });
  let lastLoggedError = 0;
  recorder = createRecorder({
    write,
    clock,
    maxQueue: options.recorderMaxQueue,
    onError(err, retryable) {
      // A failing disk would otherwise log ten times a second.
      if (clock() - lastLoggedError < 10_000) return;
      lastLoggedError = clock();
      logger.error({ err, retryable, stats: recorder?.stats() }, 'recorder: cannot write to the database');
    },
  });
  recorder.start();

  const proxy = createProxy({
    upstream,
    sink: recorder,
    timeoutMs: config.upstreamTimeoutMs,
    captureLimitBytes: config.capture === 'none' ? 0 : config.captureLimitBytes,
    upstreamCa: config.upstreamCa,
    clock,
  });
  let proxyListener: Awaited<ReturnType<typeof listen>>;
  try {
    proxyListener = await listen(
      {
        ...config.listen,
        tls: config.tlsCert && config.tlsKey ? { cert: config.tlsCert, key: config.tlsKey } : undefined,
      },
      proxy.handle,
    );
  } catch (err) {
    proxy.close();
    recorder.stop();
    await checkpointer.stop();
    db.$client.close();
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
    upstreamState: () => lastUpstream,
    emailState: () => emailDeliveryState(db),
    extraApi: {
      '/timeseries': timeseriesRoutes({ db, clock }),
      '/status': statusRoutes({
        db,
        config,
        clock,
        firingIncidents: options.firingIncidents ?? (() => firingIncidentViews(alerts, db, clock())),
      }),
      '/incidents': incidentRoutes({ db, alerts, clock }),
      '/silences': silenceRoutes({ db, alerts, clock }),
      '/notifications': notificationRoutes({ db, alerts, clock, recipients: config.notifyTo }),
      '/cycles': cycleRoutes({ db, rules: config.rules }),
      '/cycles/:id/outcomes': cycleOutcomeRoutes({ db }),
      '/identities': identityRoutes({ db }),
      ...options.extraApi,
    },
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
    // Undo what is already open, or the proxy listener would keep a process that failed to start alive.
    await proxyListener.close();
    proxy.close();
    recorder.stop();
    await checkpointer.stop();
    db.$client.close();
    throw listenerError('admin', 'adminListen', config.adminListen, err);
  }
  const adminAddress = adminServer.address() as { port: number };
  const adminUrl = adminBaseUrl({ adminListen: config.adminListen }, adminAddress.port);
  linkBase = adminBaseUrl(config, adminAddress.port);
  alerts.start();
  const jobs = startJobs(
    options.periodicJobs === false ? [] : scimtapJobs({ db, config, clock, alerts, cycles }),
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
      proxy.close();
      recorder.stop();
      await alerts.stop();
      const { queued, dropped } = recorder.stats();
      if (queued > 0) logger.error({ queued }, 'recorder: exchanges could not be written before shutdown');
      await checkpointer.stop();
      db.$client.close();
      logger.info({ dropped }, 'scimtap stopped');
    })();
    return stopping;
  };

  return {
    proxyUrl: proxyListener.url,
    adminUrl,
    db,
    recorder,
    logger,
    alerts,
    admin: app,
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

/** Never log credentials that may sit in a URL. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}
