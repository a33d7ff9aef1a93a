import { createHash } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { secureHeaders } from 'hono/secure-headers';
import { emailStyles } from '../notify/email.js';

// The admin plane's defences against the browser of the admin who uses it (ARCHITECTURE §7). The listener is on
// loopback without a token by default, so any page that browser visits can aim requests at it: cross-site
// requests (CSRF), DNS rebinding (a foreign name resolving to 127.0.0.1) and framing are refused here.

/** Request bodies on the admin listener: the largest the API takes (a silence, an ack) is well under 4 KiB. */
export const ADMIN_BODY_LIMIT = 64 * 1024;

/** A CSP source for one exact inline style (`style="…"`), by its SHA-256. */
export const styleHash = (css: string) => `'sha256-${createHash('sha256').update(css).digest('base64')}'`;

/**
 * The dashboard is built by Vite into external scripts and one stylesheet: no inline script or `<style>`.
 * React and recharts set styles through the CSSOM (`element.style`), which `style-src` does not govern, so
 * 'unsafe-inline' is not needed. `data:` images: the favicon in index.html.
 *
 * The email viewer shows an email's HTML in `<iframe sandbox srcdoc>`: a srcdoc document inherits this policy
 * (it can fetch nothing but 'self', run no script), and `frame-src` does not govern it (local scheme), so no URL
 * is ever framed: `frame-src 'none'`. Its inline styles are allowed one by one, the emails' own and no other.
 */
export const CONTENT_SECURITY_POLICY = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  styleSrcAttr: ["'unsafe-hashes'", ...Object.values(emailStyles).map(styleHash)],
  imgSrc: ["'self'", 'data:'],
  fontSrc: ["'self'"],
  connectSrc: ["'self'"],
  frameSrc: ["'none'"],
  objectSrc: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
};

/** CSP, no framing, no sniffing, no referrer, on every answer (errors included: the middleware runs first). */
export const adminSecurityHeaders = (): MiddlewareHandler =>
  secureHeaders({
    contentSecurityPolicy: CONTENT_SECURITY_POLICY,
    xFrameOptions: 'DENY',
    referrerPolicy: 'no-referrer',
    // HSTS would outlive this listener (plain HTTP) and, behind a TLS proxy, bind the company's subdomains.
    strictTransportSecurity: false,
  });

export interface ForeignRequestOptions {
  /** SCIMTAP_ADMIN_LISTEN's host, when it is a name or a fixed address */
  listenHost?: string;
  /** SCIMTAP_PUBLIC_URL: the name a reverse proxy or port mapping reaches the admin listener by */
  publicUrl?: string;
}

/** The address and port a request arrived on; undefined for in-process calls (`app.request()`, no socket). */
export interface Arrival {
  address: string | undefined;
  port: number;
}

const bracketed = (address: string) => (address.includes(':') ? `[${address}]` : address);

/**
 * The `Host` values this listener answers for, lowercased: its own address, the loopback names, each with the
 * port the request arrived on, and SCIMTAP_PUBLIC_URL's host. A DNS-rebinding page sends its own name instead.
 */
export function allowedHosts(
  { listenHost, publicUrl }: ForeignRequestOptions,
  arrival: Arrival,
): Set<string> {
  const names = new Set(['localhost', '127.0.0.1', '[::1]']);
  if (arrival.address) names.add(bracketed(arrival.address.replace(/^::ffff:(?=\d+\.)/i, '')));
  if (listenHost && listenHost !== '0.0.0.0' && listenHost !== '::') names.add(bracketed(listenHost));
  const hosts = new Set<string>();
  for (const name of names) {
    hosts.add(`${name.toLowerCase()}:${arrival.port}`);
    if (arrival.port === 80) hosts.add(name.toLowerCase());
  }
  if (publicUrl) {
    const url = new URL(publicUrl);
    // URL.host leaves out the scheme's default port; a client may still write it.
    hosts.add(url.host.toLowerCase());
    if (!url.port) hosts.add(`${url.hostname.toLowerCase()}:${url.protocol === 'https:' ? 443 : 80}`);
  }
  return hosts;
}

export interface RequestFacts {
  method: string;
  host: string | undefined;
  origin: string | undefined;
  secFetchSite: string | undefined;
  secFetchMode: string | undefined;
  secFetchDest: string | undefined;
}

export interface Refusal {
  status: 403 | 421;
  error: string;
  message: string;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Why a request must be refused, or null. `hosts` null: an in-process call, where no browser and no DNS are
 * involved; its Origin must then match its own Host.
 */
export function foreignRequest(req: RequestFacts, hosts: Set<string> | null): Refusal | null {
  const host = req.host?.toLowerCase();
  if (hosts && (!host || !hosts.has(host))) {
    return {
      status: 421,
      error: 'misdirectedRequest',
      message:
        'this admin listener does not answer for that Host name (DNS rebinding?); reaching it through a proxy or ' +
        'another name needs SCIMTAP_PUBLIC_URL',
    };
  }
  if (req.origin !== undefined && !sameOrigin(req.origin, hosts ?? new Set(host ? [host] : []))) {
    return crossSite('a page on another origin');
  }
  // Fetch metadata catches what carries no Origin (a GET from <img>, <script>, an iframe): only a top-level
  // navigation may come from another site, so that links in emails and chat open the dashboard.
  const site = req.secFetchSite?.toLowerCase();
  if (site === 'cross-site' || site === 'same-site') {
    const navigation =
      (req.method === 'GET' || req.method === 'HEAD') &&
      req.secFetchMode?.toLowerCase() === 'navigate' &&
      (req.secFetchDest === undefined || req.secFetchDest.toLowerCase() === 'document');
    if (!navigation) return crossSite(`a ${site} request`);
  }
  return null;
}

function sameOrigin(origin: string, hosts: Set<string>): boolean {
  // "null" (sandboxed frames, file: pages, some redirects) and anything unparsable are foreign.
  if (!/^https?:\/\/[^/?#\s]+$/i.test(origin)) return false;
  try {
    return hosts.has(new URL(origin).host.toLowerCase());
  } catch {
    return false;
  }
}

const crossSite = (what: string): Refusal => ({
  status: 403,
  error: 'crossOrigin',
  message: `${what} may not use the admin listener: open the dashboard itself`,
});

/** The socket's local address and port; hono's node adapter passes the IncomingMessage as `env.incoming`. */
function arrivalOf(c: Context): Arrival | undefined {
  const socket = (
    c.env as { incoming?: { socket?: { localAddress?: string; localPort?: number } } } | undefined
  )?.incoming?.socket;
  return socket?.localPort ? { address: socket.localAddress, port: socket.localPort } : undefined;
}

/** Refuses DNS-rebinding Hosts (421) and cross-site requests (403) on every route, static files included. */
export function refuseForeignRequests(options: ForeignRequestOptions = {}): MiddlewareHandler {
  return async (c, next) => {
    const arrival = arrivalOf(c);
    const refusal = foreignRequest(
      {
        method: c.req.method,
        host: c.req.header('host'),
        origin: c.req.header('origin'),
        secFetchSite: c.req.header('sec-fetch-site'),
        secFetchMode: c.req.header('sec-fetch-mode'),
        secFetchDest: c.req.header('sec-fetch-dest'),
      },
      arrival ? allowedHosts(options, arrival) : null,
    );
    if (refusal) return c.json({ error: refusal.error, message: refusal.message }, refusal.status);
    await next();
  };
}

/** True for `application/json`, with or without parameters (`; charset=utf-8`). */
export function isJsonContentType(value: string | undefined): boolean {
  return value?.split(';', 1)[0].trim().toLowerCase() === 'application/json';
}

/**
 * State-changing requests must say `Content-Type: application/json`, with a body or without (ack, DELETE).
 * A browser sends that type to another origin only after a CORS preflight, which this listener never grants;
 * forms and `text/plain` fetches, which need none, are refused.
 */
export function requireJson(): MiddlewareHandler {
  return async (c, next) => {
    if (!SAFE_METHODS.has(c.req.method) && !isJsonContentType(c.req.header('content-type'))) {
      return c.json(
        {
          error: 'unsupportedMediaType',
          message: `${c.req.method} requests take Content-Type: application/json`,
        },
        415,
      );
    }
    await next();
  };
}

/**
 * Caps request bodies. hono's bodyLimit refuses a too-large Content-Length before reading, and reads a chunked
 * body only up to the cap; `Connection: close` then ends the upload instead of draining the rest.
 */
export function adminBodyLimit(maxSize = ADMIN_BODY_LIMIT): MiddlewareHandler {
  return bodyLimit({
    maxSize,
    onError: (c) =>
      c.json({ error: 'payloadTooLarge', message: `request bodies are limited to ${maxSize} bytes` }, 413, {
        connection: 'close',
      }),
  });
}
