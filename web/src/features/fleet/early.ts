import { apiUrl, authHeaders } from '../../lib/api-client.js';

// Every page's first render waits for the apps list: it decides which page `/` is and whether the URL's app
// exists. Asked for by main.tsx before the rest of the dashboard's code has downloaded, the list arrives while
// that code loads and runs instead of after it (on the fleet page, ~0.5 s of the first render).

let early: Promise<Response> | undefined;

/**
 * Sends GET /api/apps now, for the first read of the list (getApps) to take. Without a token the browser answers
 * it from the preload the page's HTML came with (server/api/index.ts), already under way: for that the request
 * must match the preload's, so it sends no header of its own (no `accept`).
 */
export function requestAppsEarly(): void {
  early = fetch(apiUrl('/apps', {}, null), { headers: authHeaders() });
  // The reader that takes it sees its failure; until then a network error is not an unhandled rejection.
  early.catch(() => {});
}

/** The early request, once: undefined after the first call, and when none was sent. */
export function takeEarlyApps(): Promise<Response> | undefined {
  const taken = early;
  early = undefined;
  return taken;
}
