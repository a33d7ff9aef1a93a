import type { IncomingMessage, ServerResponse } from 'node:http';
import { answerUnread, scimError } from './refusals.js';

// Which app a request on the proxy listener is for (issue 14). Entra's Tenant URL for an app of the `apps` list
// is `https://<scimtap>/<id>/`, so the first path segment names the app and the rest is the app's own path,
// forwarded as it came. The single app of SCIMTAP_UPSTREAM has the empty prefix: it takes every request, as
// before apps existed.

/** as appIdPattern (config/schema.ts) allows */
const MAX_ID_LENGTH = 40;

export interface AppRoute {
  /** '' (the single app: the whole listener) or `/<id>` */
  prefix: string;
  /** the app's proxy; `rawUrl` is the request target without the prefix, always starting with `/` */
  handle(req: IncomingMessage, res: ServerResponse, rawUrl: string): void;
}

export interface Router {
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** requests whose first path segment named no app (answered 404, not recorded as any app's operation) */
  unknown(): number;
  /**
   * Replaces the routes (a reload, issue 14): requests from now on see the new table; one already handed to an
   * app's proxy stays with it.
   */
  setRoutes(routes: AppRoute[]): void;
}

/** One consistent table: a request reads `table` once, and a reload swaps the whole of it. */
interface Table {
  single: AppRoute | null;
  byId: ReadonlyMap<string, AppRoute>;
}

function tableOf(routes: AppRoute[]): Table {
  return {
    single: routes.length === 1 && routes[0].prefix === '' ? routes[0] : null,
    byId: new Map(routes.filter((r) => r.prefix !== '').map((r) => [r.prefix.slice(1), r])),
  };
}

/** The app's part of a request target: `/<id>/Users?x` → `/Users?x`; `/<id>` and `/<id>?x` → `/` and `/?x`. */
export function appTarget(rawUrl: string, prefix: string): string {
  const rest = rawUrl.slice(prefix.length);
  return rest.startsWith('/') ? rest : `/${rest}`;
}

/**
 * The first path segment of a request target, as sent (not decoded: `/%74anium/` names no app). Linear in the
 * target's length, and never longer than an app id can be: a longer segment is no app's.
 */
export function firstSegment(rawUrl: string): string | null {
  if (!rawUrl.startsWith('/')) return null;
  for (let end = 1; end < rawUrl.length; end++) {
    const c = rawUrl.charCodeAt(end);
    if (c === 0x2f /* / */ || c === 0x3f /* ? */) return rawUrl.slice(1, end);
    if (end > MAX_ID_LENGTH) return null;
  }
  return rawUrl.length - 1 > MAX_ID_LENGTH ? null : rawUrl.slice(1);
}

/** Sends each request to its app by the first path segment; the single app (prefix '') takes them all. */
export function createRouter(routes: AppRoute[]): Router {
  let unknown = 0;
  let table = tableOf(routes);
  // Fixed: the request's own segment is never echoed (it is the client's bytes, and scanners probe with anything).
  const notFound = scimError(404, 'scimtap: no app here; the Tenant URL is https://<scimtap host>/<app id>/');

  return {
    handle(req, res) {
      const rawUrl = req.url ?? '/';
      const { single, byId } = table;
      if (single) {
        single.handle(req, res, rawUrl);
        return;
      }
      const id = firstSegment(rawUrl);
      const route = id === null ? undefined : byId.get(id);
      if (route) {
        route.handle(req, res, appTarget(rawUrl, route.prefix));
        return;
      }
      unknown++;
      // A body we will not read: answer at once and close, rather than wait for the rest of it.
      answerUnread(req, res, 404, notFound);
    },
    unknown: () => unknown,
    setRoutes(next) {
      table = tableOf(next);
    },
  };
}
