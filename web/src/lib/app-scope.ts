// Many apps in one scimtap (issue 14): an app's pages are today's pages under `/apps/<id>/...`, and the app id
// in the URL is the one source of which app a page, a link and an API call are about. With a single app the
// URLs have no prefix and nothing here changes them.

const PREFIX = '/apps/';

/** `/apps/tanium/incidents/7` → `{app: 'tanium', path: '/incidents/7'}`; an unprefixed path has no app. Pure. */
export function splitAppPath(pathname: string): { app: string | null; path: string } {
  if (!pathname.startsWith(PREFIX)) return { app: null, path: pathname };
  const rest = pathname.slice(PREFIX.length);
  const slash = rest.indexOf('/');
  const segment = slash < 0 ? rest : rest.slice(0, slash);
  if (!segment) return { app: null, path: pathname };
  let app: string;
  try {
    app = decodeURIComponent(segment);
  } catch {
    // a malformed escape names no app: the page is "not found" rather than a crash
    return { app: null, path: pathname };
  }
  return { app, path: slash < 0 ? '/' : rest.slice(slash) };
}

/**
 * Where an app-relative target (`/cycles/3`, `/operations?cycle=3`) is for `app`: `/apps/<app>/cycles/3`.
 * Left alone: targets with no app (`app` null, the single-app dashboard), paths that already name an app,
 * and anything that is not an absolute path (`#main`, `https://…`). Idempotent. Pure.
 */
export function appPath(to: string, app: string | null): string {
  if (app === null || !to.startsWith('/') || to.startsWith('//')) return to;
  if (to === '/apps' || to.startsWith(PREFIX)) return to;
  return `${PREFIX}${encodeURIComponent(app)}${to}`;
}

/** The app the browser's URL names, or null (the single-app dashboard, the fleet page, or no browser). */
export function currentApp(): string | null {
  if (typeof window === 'undefined') return null;
  return splitAppPath(window.location.pathname).app;
}
