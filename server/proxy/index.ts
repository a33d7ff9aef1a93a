import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import { rootCertificates } from 'node:tls';
import type { Exchange, ExchangeFailure } from '../scim/types.js';
import { BodyTap, createFingerprinter } from './tap.js';

export interface ExchangeSink {
  /** Must return at once and never throw: the proxy does not wait for recording. */
  record(exchange: Exchange): void;
}

export interface ProxyOptions {
  /** base URL of the real SCIM endpoint, e.g. https://tenant.example.com/scim/v2 */
  upstream: string;
  sink: ExchangeSink;
  timeoutMs?: number;
  /** bytes of each body kept for classification; 0 keeps none (capture 'none') */
  captureLimitBytes?: number;
  /** extra CA bundle (PEM) trusted for the upstream, on top of the system's */
  upstreamCa?: string;
  clock?: () => number;
}

export interface Proxy {
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** requests forwarded and not yet finished */
  inFlight(): number;
  close(): void;
}

// RFC 9110 §7.6.1: connection-specific headers are not forwarded. `host` is set from the upstream URL.
const hopByHop = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
]);

export function createProxy({
  upstream,
  sink,
  timeoutMs = 60_000,
  captureLimitBytes = 65_536,
  upstreamCa,
  clock = Date.now,
}: ProxyOptions): Proxy {
  const base = new URL(upstream);
  const secure = base.protocol === 'https:';
  const basePath = base.pathname.replace(/\/+$/, '');
  const agentOptions = { keepAlive: true, maxSockets: 256, maxFreeSockets: 64, scheduling: 'lifo' as const };
  const agent = secure
    ? new https.Agent({ ...agentOptions, ca: upstreamCa ? [...rootCertificates, upstreamCa] : undefined })
    : new http.Agent(agentOptions);
  const request = secure ? https.request : http.request;
  const fingerprint = createFingerprinter();
  let inFlight = 0;

  function handle(req: IncomingMessage, res: ServerResponse): void {
    inFlight++;
    const startedAt = clock();
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const path = q === -1 ? rawUrl : rawUrl.slice(0, q);
    const query = q === -1 ? '' : rawUrl.slice(q + 1);
    const reqTap = new BodyTap(captureLimitBytes);
    const resTap = new BodyTap(captureLimitBytes);
    let httpStatus: number | null = null;
    let responseContentType: string | null = null;
    let failure: ExchangeFailure | null = null;
    let failureDetail: string | null = null;
    let done = false;

    const finish = () => {
      if (done) return;
      done = true;
      inFlight--;
      clearTimeout(timer);
      if (!res.writableFinished && !failure) {
        failure = 'ClientAborted';
        failureDetail = 'the client closed the connection before the response was complete';
      }
      sink.record({
        startedAt,
        durationMs: clock() - startedAt,
        method: req.method ?? 'GET',
        path,
        query,
        tokenFingerprint: fingerprint(req.headers.authorization),
        clientIp: clientAddress(req),
        userAgent: req.headers['user-agent'] ?? null,
        requestContentType: req.headers['content-type'] ?? null,
        requestBody: reqTap.body(),
        requestBytes: reqTap.bytes,
        requestTruncated: reqTap.truncated,
        httpStatus,
        responseContentType,
        responseBody: resTap.body(),
        responseBytes: resTap.bytes,
        responseTruncated: resTap.truncated,
        failure,
        failureDetail,
      });
    };

    const fail = (code: 502 | 504, kind: ExchangeFailure, detail: string) => {
      if (failure) return;
      failure = kind;
      failureDetail = detail;
      upstreamReq.destroy();
      if (!res.headersSent) {
        httpStatus = code;
        const body = scimError(code, `scimtap: ${kind === 'Timeout' ? 'upstream timeout' : 'upstream unreachable'}: ${detail}`);
        responseContentType = 'application/scim+json';
        resTap.push(body);
        res.writeHead(code, { 'content-type': 'application/scim+json', 'content-length': body.length });
        res.end(body);
      } else {
        // Status and part of the body are already with the client: the only honest signal left is a cut.
        res.destroy();
      }
    };

    const upstreamReq = request({
      protocol: base.protocol,
      hostname: base.hostname,
      port: base.port || (secure ? 443 : 80),
      method: req.method,
      path: joinPath(basePath, rawUrl),
      headers: forwardHeaders(req.headers, base.host),
      agent,
    });

    const timer = setTimeout(
      () => fail(504, 'Timeout', `no complete answer within ${timeoutMs} ms`),
      timeoutMs,
    );

    upstreamReq.on('response', (upRes) => {
      httpStatus = upRes.statusCode ?? 502;
      responseContentType = upRes.headers['content-type'] ?? null;
      res.writeHead(httpStatus, upRes.statusMessage, responseHeaders(upRes.rawHeaders));
      upRes.on('data', (chunk: Buffer) => resTap.push(chunk));
      upRes.on('error', () => res.destroy());
      upRes.on('aborted', () => {
        if (!failure) {
          failure = 'UpstreamUnreachable';
          failureDetail = 'the upstream closed the connection in the middle of the response';
        }
        res.destroy();
      });
      upRes.pipe(res);
    });
    upstreamReq.on('error', (err: NodeJS.ErrnoException) => {
      if (done || failure) return;
      fail(502, 'UpstreamUnreachable', err.code ? `${err.code} ${err.message}` : err.message);
    });

    req.on('data', (chunk: Buffer) => reqTap.push(chunk));
    req.on('error', () => upstreamReq.destroy());
    req.pipe(upstreamReq);

    res.on('close', () => {
      if (!res.writableFinished) upstreamReq.destroy();
      finish();
    });
  }

  return {
    handle,
    inFlight: () => inFlight,
    close: () => agent.destroy(),
  };
}

export function scimError(status: number, detail: string): Buffer {
  return Buffer.from(
    JSON.stringify({ schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: String(status), detail }),
  );
}

/** `<upstream base path>/<rest>?<query>`, joined with exactly one slash. */
export function joinPath(basePath: string, rawUrl: string): string {
  const rest = rawUrl.startsWith('/') ? rawUrl : `/${rawUrl}`;
  return `${basePath}${rest}`;
}

function forwardHeaders(headers: IncomingHttpHeaders, upstreamHost: string): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = { host: upstreamHost };
  const listed = connectionListed(headers.connection);
  for (const name in headers) {
    if (hopByHop.has(name) || listed?.has(name)) continue;
    out[name] = headers[name];
  }
  return out;
}

function responseHeaders(raw: string[]): string[] {
  let listed: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].toLowerCase() === 'connection') listed = connectionListed(raw[i + 1]);
  }
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    if (name === 'host' || hopByHop.has(name) || listed?.has(name)) continue;
    out.push(raw[i], raw[i + 1]);
  }
  return out;
}

function connectionListed(value: string | undefined): Set<string> | undefined {
  if (!value) return undefined;
  return new Set(value.split(',').map((s) => s.trim().toLowerCase()));
}

function clientAddress(req: IncomingMessage): string | null {
  const forwarded = req.headers['x-forwarded-for'];
  if (typeof forwarded === 'string' && forwarded) return forwarded.split(',')[0].trim();
  return req.socket.remoteAddress ?? null;
}
