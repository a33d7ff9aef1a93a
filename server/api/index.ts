import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { serveStatic } from '@hono/node-server/serve-static';
import { Hono, type MiddlewareHandler } from 'hono';
import { packageRoot } from '../paths.js';
import { requireToken } from './auth.js';
import { onApiError } from './errors.js';
import { adminBodyLimit, adminSecurityHeaders, refuseForeignRequests, requireJson } from './guard.js';
import { exportRoutes } from './routes/export.js';
import { type HealthDeps, healthRoutes } from './routes/health.js';
import { operationRoutes } from './routes/operations.js';

export interface AdminDeps extends HealthDeps {
  adminToken?: string;
  /** SCIMTAP_ADMIN_LISTEN's host and SCIMTAP_PUBLIC_URL: the Host names the listener answers for */
  listenHost?: string;
  publicUrl?: string;
  /** folder of the built dashboard (vite build output) */
  webRoot?: string;
  /** extra route groups mounted under /api (cycles, identities, incidents, ...) */
  extraApi?: Record<string, Hono>;
  /** GET /metrics handler, mounted behind the same token */
  metrics?: () => Promise<{ contentType: string; body: string }>;
}

export const defaultWebRoot = join(packageRoot, 'dist', 'web');

/** The admin listener's app: JSON API, metrics and the dashboard. Never mounted on the proxy listener. */
export function createAdminApp(deps: AdminDeps) {
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
  const api = new Hono()
    .route('/health', healthRoutes(deps))
    .route('/operations', operationRoutes(deps))
    .route('/export.csv', exportRoutes(deps));
  for (const [path, routes] of Object.entries(deps.extraApi ?? {})) api.route(path, routes);
  api.all('*', (c) =>
    c.json({ error: 'notFound', message: `no API route ${c.req.method} ${c.req.path}` }, 404),
  );
  app.route('/api', api);

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
  });
  app.use('*', lazyAssets);
  // Client-side routes (e.g. /identities/42 from an email link) get the app shell.
  app.use('*', lazyShell);
  return app;
}
