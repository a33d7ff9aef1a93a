import { createScrubber } from '../../scim/scrub.js';
import type { DeliveryResult } from './types.js';

/** What a receiver's answer may occupy in memory and in the database: it is hostile input too. */
export const maxResponseBytes = 4_096;
/** A Retry-After further away than this is not believed (a hostile or broken server could park us for days). */
export const maxRetryAfterMs = 60 * 60_000;

export interface PostOptions {
  headers?: Record<string, string>;
  timeoutMs?: number;
  /** strings that must never reach the database or the logs (the URL, its path, a routing key ...) */
  secrets: string[];
}

/**
 * POST a body and say what happened (STYLE §7): 2xx is delivered; 408, 429 and 5xx, a timeout or a network
 * error are retried (honouring Retry-After); any other status is permanent, with the reason kept. Never throws.
 * At most `maxResponseBytes` of the answer are read, and every secret is removed from what is kept.
 */
export async function postJson(url: string, body: string, options: PostOptions): Promise<DeliveryResult> {
  const { headers = {}, timeoutMs = 10_000, secrets } = options;
  const scrub = scrubber(secrets);
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'scimtap', ...headers },
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    return { ok: false, retryable: true, error: scrub(networkError(err, timeoutMs)), responseCode: null };
  }
  // Read a little past the cap, scrub, then cut: a secret the cap would split is still recognised whole.
  const longest = Math.max(0, ...secrets.map((x) => Buffer.byteLength(encodeURIComponent(x))));
  const answer = scrub(await readBounded(res, maxResponseBytes + longest));
  const text = oneLine(Buffer.from(answer).subarray(0, maxResponseBytes).toString('utf8'));
  const status = res.status;
  if (status >= 200 && status < 300)
    return { ok: true, response: text || `HTTP ${status}`, responseCode: status };
  const retryable = status === 408 || status === 429 || status >= 500;
  const retryAfterMs = retryable ? parseRetryAfter(res.headers.get('retry-after'), Date.now()) : null;
  // A redirect is not followed: the next hop would get the body (and its signature) unasked.
  const what = status >= 300 && status < 400 ? 'redirect not followed' : res.statusText;
  return {
    ok: false,
    retryable,
    error: `HTTP ${status}${what ? ` ${scrub(oneLine(what))}` : ''}${text ? `: ${text}` : ''}`.slice(0, 600),
    responseCode: status,
    ...(retryAfterMs !== null ? { retryAfterMs } : {}),
  };
}

function networkError(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError')
    return `timeout: no answer within ${timeoutMs} ms`;
  const cause = e.cause?.code ?? e.cause?.message;
  return oneLine([e.message ?? String(err), cause].filter(Boolean).join(': '));
}

/** Reads at most `max` bytes of the body, then cancels the rest (a receiver may answer with gigabytes). */
export async function readBounded(res: Response, max: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < max) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } catch {
    // a connection cut mid-answer: keep what arrived
  } finally {
    reader.cancel().catch(() => undefined);
  }
  return new TextDecoder().decode(Buffer.concat(chunks).subarray(0, max));
}

/** Retry-After as delta-seconds or an HTTP date, in ms from `now`; null when absent, invalid or past. */
export function parseRetryAfter(value: string | null, now: number): number | null {
  if (value === null) return null;
  const v = value.trim();
  let ms: number;
  if (/^\d{1,10}$/.test(v)) ms = Number(v) * 1000;
  else {
    const at = Date.parse(v);
    if (!Number.isFinite(at) || v.length > 64) return null;
    ms = at - now;
  }
  if (ms <= 0) return null;
  return Math.min(ms, maxRetryAfterMs);
}

function oneLine(s: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is removed
  return s.replace(/[\u0000-\u001f\u007f\u2028\u2029]+/g, ' ').trim();
}

/**
 * Replaces every secret by `[secret]`, in the forms a receiver echoes it (as is, URL-, JSON- or HTML-escaped,
 * base64); secrets shorter than 8 characters are ignored.
 */
export function scrubber(secrets: string[]): (s: string) => string {
  const scrub = createScrubber(
    secrets.filter((s) => s.length >= 8),
    '[secret]',
  );
  return (s) => scrub(s);
}

/** The parts of a URL that are secrets: the whole URL, its path and query (a Slack or Teams URL *is* the key), its password. */
export function urlSecrets(url: string): string[] {
  try {
    const u = new URL(url);
    return [url, u.href, `${u.pathname}${u.search}`, u.pathname, u.search, u.password].filter(
      (s) => s.length >= 8,
    );
  } catch {
    return [url];
  }
}

/** How a secret URL is shown: its host and the last 4 characters, e.g. `hooks.slack.com …a1B2`. */
export function maskUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.host} …${url.replace(/\/+$/, '').slice(-4)}`;
  } catch {
    return `…${url.slice(-4)}`;
  }
}

/** How a key is shown: its last 4 characters. */
export function maskKey(key: string): string {
  return `…${key.slice(-4)}`;
}
