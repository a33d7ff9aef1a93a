import { type AnchorHTMLAttributes, type MouseEvent, useCallback, useSyncExternalStore } from 'react';
import { appPath, currentApp, splitAppPath } from './app-scope.js';

// A small router on `history`: paths and search params are the state, so a link in an email
// (e.g. /operations?status=failure&errorCode=Unauthorized) opens exactly that view.
// With several apps an app's pages live under `/apps/<id>/` (lib/app-scope.ts): pages write app-relative
// targets (`/cycles/3`) and `Link` and `navigate` put the current app's prefix in front.

const NAVIGATE = 'scimtap:navigate';

function subscribe(onChange: () => void): () => void {
  window.addEventListener('popstate', onChange);
  window.addEventListener(NAVIGATE, onChange);
  return () => {
    window.removeEventListener('popstate', onChange);
    window.removeEventListener(NAVIGATE, onChange);
  };
}

const snapshot = () => window.location.pathname + window.location.search;

export interface Location {
  pathname: string;
  search: URLSearchParams;
  /** pathname + search, the key of the current view */
  href: string;
}

export function useLocation(): Location {
  const href = useSyncExternalStore(subscribe, snapshot, () => '/');
  const i = href.indexOf('?');
  return {
    pathname: i < 0 ? href : href.slice(0, i),
    search: new URLSearchParams(i < 0 ? '' : href.slice(i)),
    href,
  };
}

/** The app the URL names (`/apps/<id>/...`), or null; re-renders only when it changes. */
export function useCurrentApp(): string | null {
  return useSyncExternalStore(subscribe, currentApp, () => null);
}

export interface NavigateOptions {
  replace?: boolean;
  /** the app `to` is relative to: the current app by default, null for a path taken as it is */
  app?: string | null;
}

export function navigate(
  target: string,
  { replace = false, app = currentApp() }: NavigateOptions = {},
): void {
  const to = appPath(target, app);
  if (to === snapshot()) return;
  if (replace) window.history.replaceState(null, '', to);
  else window.history.pushState(null, '', to);
  window.dispatchEvent(new Event(NAVIGATE));
}

/** Matches `/cycles/:id` against `/cycles/12` → `{id: '12'}`; null when it does not match. */
export function matchPath(pattern: string, pathname: string): Record<string, string> | null {
  const want = pattern.split('/').filter(Boolean);
  const got = pathname.split('/').filter(Boolean);
  if (want.length !== got.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    if (want[i].startsWith(':')) {
      try {
        params[want[i].slice(1)] = decodeURIComponent(got[i]);
      } catch {
        return null;
      }
    } else if (want[i] !== got[i]) return null;
  }
  return params;
}

/**
 * The first route whose pattern matches `pathname`, with its parameters and the app the path names:
 * `/apps/tanium/incidents/7` matches `/incidents/:id` with `{id: '7'}` for app `tanium`. Pure.
 */
export function findRoute<R extends { path: string }>(
  routes: readonly R[],
  pathname: string,
): { app: string | null; path: string; route: R | null; params: Record<string, string> } {
  const { app, path } = splitAppPath(pathname);
  for (const route of routes) {
    const params = matchPath(route.path, path);
    if (params) return { app, path, route, params };
  }
  return { app, path, route: null, params: {} };
}

/** `path?k=v` from a params object, dropping empty values. */
export function withSearch(path: string, params: Record<string, string | number | null | undefined>): string {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(params))
    if (v !== undefined && v !== null && v !== '') search.set(k, String(v));
  const qs = search.toString();
  return qs ? `${path}?${qs}` : path;
}

/** The current search params as a record, and a setter that replaces them (filters do not pile up history). */
export function useSearchParams(): [
  Record<string, string>,
  (next: Record<string, string | undefined>) => void,
] {
  const { pathname, search } = useLocation();
  const params = Object.fromEntries(search.entries());
  const set = useCallback(
    (next: Record<string, string | undefined>) => navigate(withSearch(pathname, next), { replace: true }),
    [pathname],
  );
  return [params, set];
}

export interface LinkProps extends Omit<AnchorHTMLAttributes<HTMLAnchorElement>, 'href'> {
  /** an app-relative path (`/cycles/3`): it gets the app's `/apps/<id>` prefix when there is an app */
  to: string;
  /** the app `to` is relative to: the URL's app by default; null for a page of no app (the fleet page) */
  app?: string | null;
}

export function Link({ to: target, app, onClick, ...rest }: LinkProps) {
  const current = useCurrentApp();
  const to = appPath(target, app === undefined ? current : app);
  const handle = (e: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(e);
    // New tab, download, or a modified click: let the browser do it.
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(to, { app: null });
    window.scrollTo(0, 0);
  };
  return <a href={to} onClick={handle} {...rest} />;
}
