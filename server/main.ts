import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import type { AlertEngine, EvaluationReport } from './alerts/engine.js';
import { type createAdminApp, createAdminListener } from './api/index.js';
import { createMetricsRegistry } from './api/metrics.js';
import { createClosers } from './closers.js';
import { type AppConfig, appDbPath, appsOf, forApp } from './config/apps.js';
import { adminBaseUrl, type Config, redactUrl, unavailableStore } from './config.js';
import { packageRoot } from './paths.js';
import { type AppLinks, type Pipeline, startPipeline } from './pipeline.js';
import { createRouter } from './proxy/router.js';
import type { Db } from './store/db.js';
import type { Recorder } from './store/recorder.js';
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
  /** every app's pipeline by id (the fields above are the first app's) */
  apps: Record<string, Pipeline>;
  stop(): Promise<void>;
}

export { redactUrl };

/** Wire one pipeline per app (ARCHITECTURE §1) and open both listeners in front of them. */
export async function startScimtap(config: Config, options: StartOptions = {}): Promise<Scimtap> {
  const clock = options.clock ?? Date.now;
  const logger = options.logger ?? pino({ level: config.logLevel, base: { app: 'scimtap' } });
  // The demo passes its embedded target: one app, at the root.
  const apps = appsOf(options.upstream ? { ...config, apps: undefined, upstream: options.upstream } : config);
  if (apps.length === 0)
    throw new Error('no upstream: set SCIMTAP_UPSTREAM (or run without it for demo mode)');
  const unavailable = config.store && unavailableStore(config.store);
  if (unavailable) throw new Error(unavailable);

  // Everything opened below registers how to close it here: stop() and a failed start both unwind this stack.
  const closers = createClosers((name, err) => logger.error({ err }, `stopping ${name} failed`));
  try {
    return await wire({ config, options, clock, logger, closers, upstream: apps[0].upstream }, apps);
  } catch (err) {
    await closers.closeAll();
    throw err;
  }
}

/**
 * The order of the steps is the order of startup, so (through `closers`) the order of shutdown reversed: the
 * listeners close first, then each app's pipeline, newest first.
 */
async function wire(w: Wiring, apps: AppConfig[]): Promise<Scimtap> {
  const { config, logger, closers } = w;
  const several = apps.length > 1;
  const registry = createMetricsRegistry();
  const pipelines: Pipeline[] = [];
  for (const app of apps)
    pipelines.push(await startPipeline(appWiring(w, app, several), app, registry, version));
  const router = createRouter(pipelines.map((p) => ({ prefix: p.app.prefix, handle: p.proxy.handle })));
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
    apps: pipelines.map((p) => ({
      id: p.app.id,
      name: p.app.name,
      tenantPath: `${p.app.prefix}/`,
      api: p.api,
    })),
  });
  const adminServer = await openAdmin(config, admin, closers);
  const adminPort = (adminServer.address() as { port: number }).port;
  const adminUrl = adminBaseUrl({ adminListen: config.adminListen }, adminPort);
  for (const p of pipelines) p.open(adminPort);
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

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= closers.closeAll();
    return stopping;
  };
  const first = pipelines[0];
  return {
    proxyUrl: proxyListener.url,
    adminUrl,
    db: first.db,
    recorder: first.recorder,
    logger,
    alerts: first.alerts,
    admin,
    logPragma: first.logPragma,
    tick: () => first.alerts.tick(),
    apps: Object.fromEntries(pipelines.map((p) => [p.app.id, p])),
    stop,
  };
}

/**
 * An app's wiring: its settings in place of the top-level ones, its own database (a file per app when there are
 * several), its logger, and where its pages are (`/apps/<id>` with several apps).
 */
function appWiring(w: Wiring, app: AppConfig, several: boolean): Wiring & { links: AppLinks } {
  const config = { ...forApp(w.config, app), db: several ? appDbPath(w.config.db, app.id) : w.config.db };
  const pages = several ? `/apps/${app.id}` : '';
  return {
    ...w,
    config,
    upstream: app.upstream,
    logger: several ? w.logger.child({ appId: app.id }) : w.logger,
    links: {
      dashboard: (port) => `${adminBaseUrl(w.config, port)}${pages}`,
      api: several ? (port) => ({ url: `${adminBaseUrl(w.config, port)}/api`, app: app.id }) : undefined,
    },
  };
}
