import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import type { AlertEngine, EvaluationReport } from './alerts/engine.js';
import { type createAdminApp, createAdminListener } from './api/index.js';
import { createMetricsRegistry } from './api/metrics.js';
import { warmAppSummaries } from './api/routes/apps.js';
import { createClosers } from './closers.js';
import { type AppConfig, appDb, appsOf } from './config/apps.js';
import { adminBaseUrl, type Config, redactUrl, unavailableStore } from './config.js';
import { createFleet } from './fleet.js';
import { packageRoot } from './paths.js';
import { type PgPipeline, replicaName } from './pg-pipeline.js';
import type { Pipeline, PipelineRecorder } from './pipeline.js';
import { createReloader, ReloadRefused, type ReloadSummary } from './reload.js';
import { unusedHistoryWarning } from './startup.js';
import { createCheckpointers } from './store/checkpointer.js';
import type { Db } from './store/db.js';
import { createLogHost } from './store/log-host.js';
import { listenProxy, openAdmin, type Wiring } from './wiring.js';

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
  /** the first app's SQLite database (throws on a PostgreSQL store) */
  readonly db: Db;
  recorder: PipelineRecorder;
  logger: Logger;
  /** the first app's alert engine on SQLite (throws on a PostgreSQL store) */
  readonly alerts: AlertEngine;
  /** on a PostgreSQL store, its pipeline: this replica's pool, lead, alert engine */
  postgres?: PgPipeline;
  /** the admin listener's app (the security tests enumerate its routes) */
  admin: ReturnType<typeof createAdminApp>;
  /**
   * Runs a pragma on the connection that writes the operations log, which is not `db`'s when a thread writes
   * it (the disk-full tests cap max_page_count there).
   */
  logPragma(statement: string): unknown;
  /** evaluate the rules at the clock's now and deliver due emails (what the periodic jobs do) */
  tick(): Promise<EvaluationReport>;
  /** every app's SQLite pipeline by id, as running now (the fields above are the first app's at startup) */
  readonly apps: Record<string, Pipeline>;
  /**
   * Applies the `apps` of a newly loaded configuration (reload.ts): one reload at a time. Rejects with
   * ReloadRefused when it cannot apply at all (the running apps are kept).
   */
  reload(next: Config): Promise<ReloadSummary>;
  stop(): Promise<void>;
}

export { ReloadRefused, type ReloadSummary, redactUrl };

/** Wire one pipeline per app (ARCHITECTURE §1) and open both listeners in front of them. */
export async function startScimtap(config: Config, options: StartOptions = {}): Promise<Scimtap> {
  const clock = options.clock ?? Date.now;
  const logger = options.logger ?? pino({ level: config.logLevel, base: { app: 'scimtap' } });
  // The demo passes its embedded target: one app, at the root.
  const apps = appsOf(options.upstream ? { ...config, apps: undefined, upstream: options.upstream } : config);
  if (apps.length === 0)
    throw new Error('no upstream: set SCIMTAP_UPSTREAM (or run without it for demo mode)');
  const unavailable = config.store && unavailableStore(config.store, config);
  if (unavailable) throw new Error(unavailable);

  // Everything opened below registers how to close it here: stop() and a failed start both unwind this stack.
  const closers = createClosers((name, err) => logger.error({ err }, `stopping ${name} failed`));
  try {
    // One log writer thread and one checkpointer thread for every app, closed after them (closers run newest
    // first).
    const logHost = createLogHost();
    closers.add('log writer thread', () => logHost.close());
    const checkpointers = createCheckpointers();
    closers.add('checkpointer thread', () => checkpointers.close());
    const w = {
      config,
      options,
      clock,
      logger,
      closers,
      upstream: apps[0].upstream,
      apps: apps.length,
      logHost,
      checkpointers,
    };
    return await wire(w, apps);
  } catch (err) {
    await closers.closeAll();
    throw err;
  }
}

/**
 * The order of the steps is the order of startup, so (through `closers`) the order of shutdown reversed: the
 * listeners close first, then the apps (each pipeline on its own stack, fleet.ts), newest first.
 */
async function wire(w: Wiring, apps: AppConfig[]): Promise<Scimtap> {
  const { config, logger, closers } = w;
  const several = apps.length > 1;
  // Replicas on one PostgreSQL database are scraped one by one: every series says which.
  const registry = createMetricsRegistry({
    replica: config.store?.kind === 'postgres' ? replicaName(config) : undefined,
  });
  const fleet = createFleet(w, registry, version);
  // One entry for every app, the ones a reload starts later included: they must close after the listeners.
  closers.add('apps', () => fleet.stopAll());
  const files = apps.map((app) => ({ app, db: appDb(config.db, app, several) }));
  // Once, at startup: the operator who moved their one app into a list hears where its history stayed (the demo
  // keeps no history: it starts its files afresh).
  const fromList = config.mode === 'proxy' && config.apps && !w.options.upstream;
  const unused =
    fromList &&
    unusedHistoryWarning(
      config.db,
      files.map(({ app, db }) => ({ id: app.id, db })),
    );
  if (unused) logger.warn({ db: config.db }, unused);
  for (const { app, db } of files) await fleet.start(app, db, several);
  const { router } = fleet;
  registry.counter(
    'scimtap_proxy_unknown_app_requests_total',
    'Requests on the proxy listener whose path named no app (answered 404, not recorded)',
    router.unknown,
  );
  const proxyListener = await listenProxy(config, router.handle, closers);

  const admin = createAdminListener({
    adminToken: config.adminToken,
    listenHost: config.adminListen.host,
    publicUrl: config.publicUrl,
    webRoot: w.options.webRoot,
    metrics: registry.render,
    apps: fleet.appApis,
  });
  const adminServer = await openAdmin(config, admin, closers);
  void warmAppSummaries(fleet.appApis());
  const adminPort = (adminServer.address() as { port: number }).port;
  const adminUrl = adminBaseUrl({ adminListen: config.adminListen }, adminPort);
  fleet.open(adminPort);
  const pipelines = fleet.pipelines();
  logger.info(
    {
      proxy: proxyListener.url,
      apps: pipelines.map((p) => ({
        id: p.app.id,
        tenantPath: `${p.app.prefix}/`,
        upstream: redactUrl(p.app.upstream),
        db: p.config.db,
      })),
      admin: adminUrl,
      mode: config.mode,
    },
    'scimtap is forwarding',
  );

  const reloader = createReloader(fleet, config, logger);
  let stopping: Promise<void> | undefined;
  // A reload under way finishes first, so that the apps it starts are closed too.
  const stop = () => {
    stopping ??= reloader.idle().then(() => closers.closeAll());
    return stopping;
  };
  const first = pipelines[0];
  const sqlite = first.store === 'sqlite' ? first : undefined;
  /** What only SQLite has (its handle, its engine); on PostgreSQL, `postgres` holds the pipeline. */
  const sqliteOnly = <T>(value: T | undefined, name: string): T => {
    if (value === undefined)
      throw new Error(`scimtap.${name}: this scimtap runs on PostgreSQL (see scimtap.postgres)`);
    return value;
  };
  return {
    proxyUrl: proxyListener.url,
    adminUrl,
    get db() {
      return sqliteOnly(sqlite?.db, 'db');
    },
    recorder: first.recorder,
    logger,
    get alerts() {
      return sqliteOnly(sqlite?.alerts, 'alerts');
    },
    postgres: first.store === 'postgres' ? first : undefined,
    admin,
    logPragma: (statement) => sqliteOnly(sqlite, 'logPragma').logPragma(statement),
    tick: () => first.tick(),
    get apps() {
      const sqlites = fleet.pipelines().filter((p): p is Pipeline => p.store === 'sqlite');
      return Object.fromEntries(sqlites.map((p) => [p.app.id, p]));
    },
    reload(next) {
      if (stopping) return Promise.reject(new ReloadRefused('scimtap is stopping'));
      if (w.options.upstream) return Promise.reject(new ReloadRefused('the demo does not reload'));
      return reloader.reload(next);
    },
    stop,
  };
}
