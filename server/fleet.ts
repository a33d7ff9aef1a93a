import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MetricsRegistry } from './api/metrics.js';
import type { AppApi } from './api/routes/apps.js';
import { type Closers, createClosers } from './closers.js';
import { type AppConfig, forApp, sameDbFile } from './config/apps.js';
import { adminBaseUrl } from './config.js';
import { type PgPipeline, startPgPipeline } from './pg-pipeline.js';
import { type AppLinks, type Pipeline, startPipeline } from './pipeline.js';

/** An app's pipeline on either store (`store` tells which). */
export type AnyPipeline = Pipeline | PgPipeline;

import { answerUnread, scimError } from './proxy/refusals.js';
import { createRouter, type Router } from './proxy/router.js';
import type { Wiring } from './wiring.js';

// The apps running now (issue 14), each pipeline on a closer stack of its own so that one app can be stopped
// alone (a reload removes or replaces it) while the others keep forwarding. The proxy listener's router and the
// admin listener's app list follow what runs.

export interface Fleet {
  /** what the proxy listener calls: routes follow the running apps */
  router: Router;
  /** the running pipelines, in the order they started */
  pipelines(): AnyPipeline[];
  get(id: string): AnyPipeline | undefined;
  /** the admin listener's app list (GET /api/apps, /api dispatch) */
  appApis(): AppApi[];
  /**
   * Starts `app`'s pipeline on `db` and routes its requests to it. `several`: its pages and API links name it
   * (`/apps/<id>`, `?app=<id>`). A start that fails closes what it opened and throws; so does one on a file that
   * another running app records into.
   */
  start(app: AppConfig, db: string, several: boolean): Promise<AnyPipeline>;
  /**
   * Takes `id`'s route out (new requests to `/<id>/` get the unknown-app 404), then closes its pipeline: the proxy
   * waits for its in-flight requests, the recorder flushes them, derivation, alerts and the database close.
   * `restarting`: a new pipeline follows (a replace), so until `start` or `release` its requests get a 503 with
   * Retry-After, which Entra retries, rather than a 404, which would say the app is gone.
   */
  stop(id: string, options?: { restarting?: boolean }): Promise<void>;
  /** a restart that will not happen: `id`'s requests get the unknown-app 404 */
  release(id: string): void;
  /** every app, newest first (process shutdown) */
  stopAll(): Promise<void>;
  /** once the admin listener is bound: the apps started so far open, and any started later opens at once */
  open(adminPort: number): void;
}

/** `w`: the process's wiring (its config holds the running top-level settings; its closers are not used). */
export function createFleet(w: Wiring, registry: MetricsRegistry, version: string): Fleet {
  const running = new Map<string, { pipeline: AnyPipeline; closers: Closers }>();
  const router = createRouter([]);
  let adminPort: number | undefined;
  const pipelines = () => [...running.values()].map((r) => r.pipeline);
  /** prefixes of the apps between a replace's stop and start */
  const restarting = new Map<string, string>();
  const publish = () =>
    router.setRoutes([
      ...pipelines().map((p) => ({ prefix: p.app.prefix, handle: p.proxy.handle })),
      ...[...restarting.values()].map((prefix) => ({ prefix, handle: answerRestarting })),
    ]);
  const stop = async (id: string, options: { restarting?: boolean } = {}) => {
    const r = running.get(id);
    if (!r) return;
    running.delete(id);
    if (options.restarting) restarting.set(id, r.pipeline.app.prefix);
    // Route out first: from here no new request reaches this proxy, so what it forwarded is in flight or done.
    publish();
    registry.removeApp(id);
    await r.closers.closeAll();
  };

  return {
    router,
    pipelines,
    get: (id) => running.get(id)?.pipeline,
    appApis: () =>
      pipelines().map((p) => ({
        id: p.app.id,
        name: p.app.name,
        tenantPath: `${p.app.prefix}/`,
        api: p.api,
      })),
    async start(app, db, several) {
      if (running.has(app.id)) throw new Error(`app ${app.id} is already running`);
      // A reload can ask for a file another app still has open (two apps swapping files, or a list of one grown
      // around the SCIMTAP_DB file its app runs on): two log writers would mix their histories.
      const holder = pipelines().find((p) => sameDbFile(p.config.db, db));
      if (holder) throw new Error(`app ${app.id}: its database ${db} is in use by app ${holder.app.id}`);
      const closers = createClosers((name, err) =>
        w.logger.error({ err, appId: app.id }, `stopping ${name} of app ${app.id} failed`),
      );
      let pipeline: AnyPipeline;
      try {
        const wiring = appWiring({ ...w, closers }, app, db, several);
        const store = w.config.store;
        // One app on PostgreSQL (config/store.ts unavailableStore refuses a list): the URL is the store's, never
        // `db`, which holds it masked.
        pipeline =
          store?.kind === 'postgres'
            ? await startPgPipeline(wiring, app, registry, version, store.url)
            : await startPipeline(wiring, app, registry, version);
      } catch (err) {
        registry.removeApp(app.id);
        await closers.closeAll();
        throw err;
      }
      running.set(app.id, { pipeline, closers });
      restarting.delete(app.id);
      if (adminPort !== undefined) pipeline.open(adminPort);
      publish();
      return pipeline;
    },
    stop,
    release(id) {
      if (restarting.delete(id)) publish();
    },
    async stopAll() {
      for (const id of [...running.keys()].reverse()) await stop(id);
    },
    open(port) {
      adminPort = port;
      for (const p of pipelines()) p.open(port);
    },
  };
}

const restartingBody = scimError(503, 'scimtap: this app is restarting with new settings; retry in a moment');

/** A request for an app being replaced: a 503 that asks for a retry, without reading the body. */
function answerRestarting(req: IncomingMessage, res: ServerResponse): void {
  answerUnread(req, res, 503, restartingBody, { 'retry-after': '1' });
}

/**
 * An app's wiring: its settings in place of the top-level ones, its database, its logger, and where its pages
 * are (`/apps/<id>` with several apps).
 */
function appWiring(w: Wiring, app: AppConfig, db: string, several: boolean): Wiring & { links: AppLinks } {
  const config = { ...forApp(w.config, app), db };
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
