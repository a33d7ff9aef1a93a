import { currentApp } from './app-scope.js';

// One way to talk to the admin API: base path, bearer token, JSON and `{error, message}` errors (server/api/errors.ts).
// With several apps every call names its app (`app=<id>`): by default the app the page's URL names.

const TOKEN_KEY = 'scimtap.adminToken';

/** An API answer that is not 2xx, with the server's `{error, message}` when it sent one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function isUnauthorized(err: unknown): boolean {
  return err instanceof ApiError && err.status === 401;
}

// sessionStorage: the token survives reloads of this tab, not the browser session (ARCHITECTURE §7).
export function getToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function setToken(token: string | null): void {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // storage disabled: the token lives only until the next 401
  }
}

export type QueryValue = string | number | boolean | null | undefined;

/**
 * `/api/x?a=1` with empty values left out, so URLs stay short and match what the user chose. `app` (by default
 * the app the page's URL names; null for none) goes first as `app=<id>`, over any `app` in `params`.
 */
export function apiUrl(
  path: string,
  params: Record<string, QueryValue> = {},
  app: string | null = currentApp(),
): string {
  const search = new URLSearchParams();
  if (app !== null) search.set('app', app);
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === '' || key === 'app') continue;
    search.set(key, String(value));
  }
  const qs = search.toString();
  // a path that carries its own query (`/notifications/test?receiver=email`) keeps it
  return `/api${path}${qs ? `${path.includes('?') ? '&' : '?'}${qs}` : ''}`;
}

export function authHeaders(): Record<string, string> {
  const token = getToken();
  return token ? { authorization: `Bearer ${token}` } : {};
}

async function toError(res: Response): Promise<ApiError> {
  let code = 'httpError';
  let message = `${res.status} ${res.statusText}`;
  try {
    const body = (await res.json()) as { error?: string; message?: string };
    if (body.error) code = body.error;
    if (body.message) message = body.message;
  } catch {
    // not JSON (a proxy in front, or the admin listener is down): keep the status line
  }
  return new ApiError(res.status, code, message);
}

export interface RequestOptions {
  params?: Record<string, QueryValue>;
  signal?: AbortSignal;
  /** the app the call is about: the URL's app when left out, null for a call about no app (/api/apps) */
  app?: string | null;
}

export async function apiGet<T>(path: string, { params, signal, app }: RequestOptions = {}): Promise<T> {
  const res = await fetch(apiUrl(path, params, app), {
    headers: { accept: 'application/json', ...authHeaders() },
    signal,
  });
  return readJson<T>(res);
}

/** An answer's JSON, or its ApiError (also for a request sent before anyone reads it: fleet/early.ts). */
export async function readJson<T>(res: Response): Promise<T> {
  if (!res.ok) throw await toError(res);
  return (await res.json()) as T;
}

/**
 * A state-changing call. The admin listener takes these only as `application/json`, a body or not (a DELETE):
 * a type another origin's page cannot send without a CORS preflight, which the listener never grants.
 */
export async function apiSend<T>(
  method: 'POST' | 'DELETE',
  path: string,
  body?: unknown,
  { app }: { app?: string | null } = {},
): Promise<T> {
  const res = await fetch(apiUrl(path, {}, app), {
    method,
    headers: { accept: 'application/json', 'content-type': 'application/json', ...authHeaders() },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw await toError(res);
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

/**
 * Downloads a file from the API. A plain link cannot carry the bearer token, so with a token set the file is
 * fetched and handed to the browser as a blob; without one the caller lets the link stream it.
 */
export async function downloadWithToken(url: string, filename: string): Promise<void> {
  const res = await fetch(url, { headers: authHeaders() });
  if (!res.ok) throw await toError(res);
  const blob = await res.blob();
  const href = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = href;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 10_000);
}
