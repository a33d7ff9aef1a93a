import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { serveStatic } from '@hono/node-server/serve-static';
import { type Context, Hono, type MiddlewareHandler } from 'hono';
import { firingIncidentViews } from '../alerts/views.js';
import { SINGLE_APP_ID } from '../config/apps.js';
import type { Config } from '../config.js';
import { packageRoot } from '../paths.js';
import { requireToken } from './auth.js';
import { onApiError } from './errors.js';
import { adminBodyLimit, adminSecurityHeaders, refuseForeignRequests, requireJson } from './guard.js';
import { type AppApi, appsRoutes } from './routes/apps.js';
import { cycleOutcomeRoutes } from './routes/cycle-outcomes.js';
import { cycleRoutes } from './routes/cycles.js';
import { exportRoutes } from './routes/export.js';
import { type HealthDeps, healthRoutes } from './routes/health.js';
import { identityRoutes } from './routes/identities.js';
import { type AdminAlerts, incidentRoutes } from './routes/incidents.js';
import { notificationRoutes } from './routes/notifications.js';
import { operationRoutes } from './routes/operations.js';
import { silenceRoutes } from './routes/silences.js';
import { statusRoutes } from './routes/status.js';
import { timeseriesRoutes } from './routes/timeseries.js';
import { unrecognisedRoutes } from './routes/unrecognised.js';

export type { AdminAlerts };

/** What every /api route reads: the store, the parts of the config they show, the clock and the incident engine. */
export interface ApiDeps extends HealthDeps {
  /** the app's id (config/apps.ts): the CSV's first column */
  appId?: string;
  config: Pick<Config, 'cycleIntervalMin' | 'rules' | 'notifyTo'>;
  clock?: () => number;
  alerts: AdminAlerts;
}

export interface AdminDeps extends ApiDeps {
  adminToken?: string;
  /** SCIMTAP_ADMIN_LISTEN's host and SCIMTAP_PUBLIC_URL: the Host names the listener answers for */
  listenHost?: string;
  publicUrl?: string;
  /** folder of the built dashboard (vite build output) */
  webRoot?: string;
  /** GET /metrics handler, mounted behind the same token */
  metrics?: () => Promise<{ contentType: string; body: string }>;
}

/**
 * Hands an /api request to the API of the app its `app` parameter names, without that parameter (the routes
 * validate their parameters strictly) and without the /api prefix.
 */
function dispatchToApp(appsNow: () => AppApi[]) {
  return async (c: Context) => {
    // Read per request: a reload (issue 14) adds and removes apps.
    const apps = appsNow();
    const url = new URL(c.req.url);
    const id = url.searchParams.get('app');
    const target = id === null ? (apps.length === 1 ? apps[0] : undefined) : apps.find((a) => a.id === id);
    if (!target) {
      // The id is the client's: it is not echoed.
      return id === null
        ? c.json(
            {
              error: 'appRequired',
              message: `scimtap serves ${apps.length} apps: name one with ?app=<id> (GET /api/apps lists them)`,
            },
            400,
          )
        : c.json({ error: 'unknownApp', message: 'no app with this id (GET /api/apps lists them)' }, 404);
    }
    url.searchParams.delete('app');
    url.pathname = url.pathname.slice('/api'.length) || '/';
    const method = c.req.method;
    const body = method === 'GET' || method === 'HEAD' ? undefined : await c.req.arrayBuffer();
    return target.api.fetch(new Request(url, { method, headers: c.req.raw.headers, body }));
  };
}

export const defaultWebRoot = join(packageRoot, 'dist', 'web');

/**
 * Every /api route (ARCHITECTURE §8), in one chain so that its type carries them all: the dashboard's typed
 * client (`hc<AdminApi>`, web/src/lib/api-client.ts) reads each route's answer from this type.
 */
export function createApi(deps: ApiDeps) {
  const { store, config, alerts } = deps;
  const clock = deps.clock ?? Date.now;
  /** the engine's firing incidents as /api/incidents shows them, with the silences in force now */
  const firingIncidents = async () => {
    const now = clock();
    return firingIncidentViews(alerts, await store.activeSilences(now), now);
  };
  return new Hono()
    .route('/health', healthRoutes(deps))
    .route('/operations', operationRoutes({ store }))
    .route('/export.csv', exportRoutes({ store, appName: deps.appName, appId: deps.appId, clock }))
    .route('/timeseries', timeseriesRoutes({ store, clock }))
    .route('/status', statusRoutes({ store, config, clock, firingIncidents }))
    .route('/incidents', incidentRoutes({ store, alerts, clock }))
    .route('/silences', silenceRoutes({ store, alerts, clock }))
    .route('/notifications', notificationRoutes({ store, alerts, clock, recipients: config.notifyTo }))
    .route('/cycles', cycleRoutes({ store, rules: config.rules }))
    .route('/cycles/:id/outcomes', cycleOutcomeRoutes({ store }))
    .route('/identities', identityRoutes({ store }))
    .route('/unrecognised', unrecognisedRoutes({ store, clock }));
}

/** The admin API's routes and answers, for the dashboard's typed client (paths relative to /api). */
export type AdminApi = ReturnType<typeof createApi>;

/**
 * One app's API as the admin listener calls it (paths relative to /api): its own JSON errors and 404, since the
 * listener hands it the request whole.
 */
export function createAppApi(deps: ApiDeps): AdminApi {
  const api = createApi(deps);
  api.onError(onApiError);
  // An unknown /api path is a JSON 404, never the dashboard's shell.
  api.notFound((c) =>
    c.json({ error: 'notFound', message: `no API route ${c.req.method} /api${c.req.path}` }, 404),
  );
  return api;
}

/** The admin listener's app for one app: what tests and a hand-built scimtap use. */
export function createAdminApp(deps: AdminDeps) {
  const api = createAppApi(deps);
  return createAdminListener({
    ...deps,
    apps: () => [{ id: SINGLE_APP_ID, name: deps.appName ?? 'SCIM app', tenantPath: '/', api }],
  });
}

export interface AdminListenerDeps
  extends Pick<AdminDeps, 'adminToken' | 'listenHost' | 'publicUrl' | 'webRoot' | 'metrics'> {
  /** every app's API as it is now (a reload changes them); with one, requests need not name it */
  apps: () => AppApi[];
}

/**
 * The admin listener's app: JSON API, metrics and the dashboard. Never mounted on the proxy listener. Each /api
 * request goes to its app's API, named by `?app=<id>` (optional with one app); GET /api/apps lists them all.
 */
export function createAdminListener(deps: AdminListenerDeps) {
  const app = new Hono();
  app.onError(onApiError);
  // Order: headers wrap every answer; foreign requests are refused before anything else runs; the token check
  // comes before the body is read, so an unauthenticated client cannot make the listener buffer anything.
  app.use('*', adminSecurityHeaders());
  app.use('*', refuseForeignRequests({ listenHost: deps.listenHost, publicUrl: deps.publicUrl }));
  if (deps.adminToken) {
    app.use('/api/*', requireToken(deps.adminToken));
    app.use('/metrics', requireToken(deps.adminToken));
  }
  app.use('*', requireJson());
  app.use('*', adminBodyLimit());
  app.route('/api/apps', appsRoutes(deps.apps));
  app.all('/api/*', dispatchToApp(deps.apps));

  if (deps.metrics) {
    const metrics = deps.metrics;
    app.get('/metrics', async (c) => {
      const { contentType, body } = await metrics();
      return c.body(body, 200, { 'content-type': contentType });
    });
  }

  const webRoot = deps.webRoot ?? defaultWebRoot;
  // Created on first use: the dashboard may be built after scimtap starts (npm start builds it when needed).
  let assets: MiddlewareHandler | undefined;
  let shell: MiddlewareHandler | undefined;
  const lazyAssets: MiddlewareHandler = (c, next) => {
    assets ??= serveStatic({ root: webRoot });
    return assets(c, next);
  };
  const lazyShell: MiddlewareHandler = (c, next) => {
    shell ??= serveStatic({ root: webRoot, path: 'index.html' });
    return shell(c, next);
  };
  app.use('*', async (c, next) => {
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') return c.text('Not found', 404);
    if (!existsSync(`${webRoot}/index.html`)) {
      return c.text('The dashboard is not built. Run `npm run build` (npm start does it when needed).', 503);
    }
    await next();
    // Every page's first render waits for the apps list: the browser fetches it while it loads the page's
    // scripts, and the dashboard's first request takes it (web/src/features/fleet/early.ts). Not with a token:
    // a preload cannot send it, and would only be refused.
    if (!deps.adminToken && c.res.headers.get('content-type')?.startsWith('text/html')) {
      c.res.headers.append('link', '</api/apps>; rel=preload; as=fetch; crossorigin=anonymous');
    }
  });
  app.use('*', lazyAssets);
  // Client-side routes (e.g. /identities/42 from an email link) get the app shell.
  app.use('*', lazyShell);
  return app;
}
