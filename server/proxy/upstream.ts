import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import { rootCertificates } from 'node:tls';
import { forwardHeaders, hasBody, responseHeaders } from './headers.js';

const IDLE_SOCKET_MS = 30_000;
const POOL_SOCKETS = 256;
// Methods whose request can be sent again when it carries no body (RFC 9110 §9.2.2).
const idempotent = new Set(['GET', 'HEAD', 'OPTIONS', 'DELETE', 'PUT', 'TRACE']);
// Errors that mean a pooled keep-alive socket was closed by the upstream as we reused it.
const staleSocketCodes = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

export interface Upstream {
  /** Sends the client's request line and headers to the upstream; the caller relays the body (relay.ts). */
  send(req: IncomingMessage, rawUrl: string): http.ClientRequest;
  close(): void;
}

/** The real SCIM endpoint behind `upstream` (its base URL), reached through one keep-alive pool. */
export function createUpstream(upstream: string, upstreamCa?: string): Upstream {
  const base = new URL(upstream);
  const secure = base.protocol === 'https:';
  const basePath = base.pathname.replace(/\/+$/, '');
  // `timeout` closes idle pooled sockets after 30 s, and lets Node honour an upstream's `Keep-Alive: timeout=N`
  // hint (Node only ever lowers a configured timeout): without it, sockets the upstream is about to close stay
  // pooled and a request sent as the upstream closes one fails. It does not cut requests in flight.
  const agentOptions = {
    keepAlive: true,
    maxSockets: POOL_SOCKETS,
    maxFreeSockets: 64,
    scheduling: 'lifo' as const,
    timeout: IDLE_SOCKET_MS,
  };
  const agent = secure
    ? new https.Agent({ ...agentOptions, ca: upstreamCa ? [...rootCertificates, upstreamCa] : undefined })
    : new http.Agent(agentOptions);
  const request = secure ? https.request : http.request;
  // Read once: URL's getters serialise on every read, and send() runs for every request.
  const { protocol, hostname, host } = base;
  const port = base.port || (secure ? 443 : 80);
  return {
    send: (req, rawUrl) =>
      request({
        protocol,
        hostname,
        port,
        method: req.method,
        path: joinPath(basePath, rawUrl),
        headers: forwardHeaders(req.rawHeaders, host),
        agent,
      }),
    close: () => agent.destroy(),
  };
}

/** `<upstream base path>/<rest>?<query>`, joined with exactly one slash. */
export function joinPath(basePath: string, rawUrl: string): string {
  const rest = rawUrl.startsWith('/') ? rawUrl : `/${rawUrl}`;
  return `${basePath}${rest}`;
}

/** Bodiless idempotent requests can be replayed; others have been streamed and are gone. */
export function canReplay(req: IncomingMessage): boolean {
  return !hasBody(req) && idempotent.has(req.method ?? 'GET');
}

/**
 * A pooled socket the upstream closed just as we reused it: the upstream never saw the request, so a 502 would
 * be scimtap's fault. Node's documented remedy is one retry on a fresh connection.
 */
export function isStaleSocket(r: http.ClientRequest, err: NodeJS.ErrnoException): boolean {
  return r.reusedSocket && staleSocketCodes.has(err.code ?? '');
}

/** Writes the upstream's status and headers to the client; returns why not when Node refuses them. */
export function writeResponseHead(res: ServerResponse, upRes: IncomingMessage): Error | null {
  const status = upRes.statusCode ?? 502;
  const headers = responseHeaders(upRes.rawHeaders);
  try {
    res.writeHead(status, upRes.statusMessage, headers);
  } catch {
    // Node's client parser accepts answers its server refuses to write (status 000 or 099, a control
    // character in the reason phrase); a throw here would crash the process. The reason phrase carries no
    // meaning (RFC 9112 §4), so drop it; if the status or a header is the problem, the caller answers 502.
    res.statusMessage = '';
    try {
      res.writeHead(status, headers);
    } catch (err) {
      return err as Error;
    }
  }
  return null;
}
