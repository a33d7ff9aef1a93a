import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import { rootCertificates } from 'node:tls';
import { createRedactor } from '../scim/redact.js';
import { createSecretSniffer, type SecretSniffer } from '../scim/sniff.js';
import type { Exchange, ExchangeFailure } from '../scim/types.js';
import { type AddressSet, normaliseAddress } from './cidr.js';
import { addressKey, createFairShare, type Slot } from './fairness.js';
import { BodyTap, createCredentialReader } from './tap.js';
import { dotSegment } from './target.js';

export interface ExchangeSink {
  /** Must return at once and never throw: the proxy does not wait for recording. */
  record(exchange: Exchange): void;
}

export interface ProxyOptions {
  /** base URL of the real SCIM endpoint, e.g. https://tenant.example.com/scim/v2 */
  upstream: string;
  sink: ExchangeSink;
  timeoutMs?: number;
  /** time from the request's headers to the end of its body; then 408 and the upstream request is aborted */
  bodyTimeoutMs?: number;
  /** upstream requests one client address may have in flight (its share of the pool) */
  clientConcurrency?: number;
  /** how long a request over its client's share may wait for one of the client's slots; then 429 */
  clientQueueMs?: number;
  /** bytes of each body kept for classification; 0 keeps none (capture 'none') */
  captureLimitBytes?: number;
  /** extra CA bundle (PEM) trusted for the upstream, on top of the system's */
  upstreamCa?: string;
  /**
   * Attributes whose values are secrets (capture `redacted`); null: none. A request body longer than the capture
   * limit is scanned as it streams for their values, so that an app echoing one can be scrubbed.
   */
  redact?: string[] | null;
  /** SCIMTAP_TRUSTED_CLIENTS: when set, any other client address gets scimtap's own 403 */
  trustedClients?: AddressSet;
  /** SCIMTAP_TRUSTED_PROXIES: X-Forwarded-For is believed only from these */
  trustedProxies?: AddressSet;
  clock?: () => number;
}

export interface ScimProxy {
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

const IDLE_SOCKET_MS = 30_000;
/** how the detail (and so the recorded reason) of a request scimtap refused itself begins */
export const REFUSED_REASON = 'scimtap refused the request';
const POOL_SOCKETS = 256;
// Methods whose request can be sent again when it carries no body (RFC 9110 §9.2.2).
const idempotent = new Set(['GET', 'HEAD', 'OPTIONS', 'DELETE', 'PUT', 'TRACE']);
// Errors that mean a pooled keep-alive socket was closed by the upstream as we reused it.
const staleSocketCodes = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

export function createProxy({
  upstream,
  sink,
  timeoutMs = 60_000,
  bodyTimeoutMs = 30_000,
  clientConcurrency = 64,
  clientQueueMs = 5_000,
  captureLimitBytes = 65_536,
  upstreamCa,
  redact = null,
  trustedClients,
  trustedProxies,
  clock = Date.now,
}: ProxyOptions): ScimProxy {
  const isRedacted = redact ? createRedactor(redact) : null;
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
  const readCredential = createCredentialReader();
  // A request holds an upstream socket from its headers to the end of the answer, so a client that sends its
  // body slowly holds one for as long as it likes: without shares, 300 such clients starved everyone else.
  // As many waiters as running requests: a burst of twice the share is smoothed, more is refused at once.
  const fair = createFairShare({ perClient: clientConcurrency, queuePerClient: clientConcurrency });
  let inFlight = 0;

  /**
   * Answers a request scimtap will not forward with its own SCIM 400, and records it (failure `Refused`): it is
   * hostile traffic worth seeing. Nothing of it reaches the upstream.
   */
  function refuse(
    req: IncomingMessage,
    res: ServerResponse,
    clientIp: string | null,
    path: string,
    query: string,
    detail: string,
  ): void {
    const startedAt = clock();
    const reqTap = new BodyTap(captureLimitBytes);
    const body = scimError(400, detail);
    const headers: http.OutgoingHttpHeaders = {
      'content-type': 'application/scim+json',
      'content-length': body.length,
    };
    // a body we will not read: answer now and close rather than wait for the rest of it
    if (hasBody(req) && !req.complete) headers.connection = 'close';
    req.on('data', (chunk: Buffer) => reqTap.push(chunk));
    req.on('error', () => {});
    req.resume();
    let recorded = false;
    res.on('close', () => {
      if (recorded) return;
      recorded = true;
      const credential = readCredential(req.headers.authorization);
      sink.record({
        startedAt,
        durationMs: clock() - startedAt,
        method: req.method ?? 'GET',
        path,
        query,
        tokenFingerprint: credential?.fingerprint ?? null,
        clientIp,
        userAgent: req.headers['user-agent'] ?? null,
        requestContentType: req.headers['content-type'] ?? null,
        requestBody: reqTap.body(),
        // the recorder's stage scrubs these from every stored field
        credentials: credential?.secrets ?? [],
        requestBytes: reqTap.bytes,
        requestTruncated: reqTap.truncated,
        httpStatus: 400,
        responseContentType: 'application/scim+json',
        responseBody: body,
        responseBytes: body.length,
        responseTruncated: false,
        failure: 'Refused',
        failureDetail: detail,
      });
    });
    res.writeHead(400, headers);
    res.end(body);
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const clientIp = clientAddress(req, trustedProxies);
    if (trustedClients && !trustedClients.has(clientIp)) {
      refuseClient(req, res, clientIp);
      return;
    }
    const rawPath = (req.url ?? '/').split('?', 1)[0];
    const dot = dotSegment(rawPath);
    if (dot !== null) {
      const q = (req.url ?? '').indexOf('?');
      const query = q === -1 ? '' : (req.url ?? '').slice(q + 1);
      refuse(
        req,
        res,
        clientIp,
        rawPath,
        query,
        `${REFUSED_REASON}: its path has a "${dot}" segment, which could leave the upstream's base path`,
      );
      return;
    }
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
    let responseContentEncoding: string | null = null;
    let sniffer: SecretSniffer | null = null;
    let failure: ExchangeFailure | null = null;
    let failureDetail: string | null = null;
    let done = false;
    let upstreamReq: http.ClientRequest | undefined;
    let waitTimer: NodeJS.Timeout | undefined;

    const finish = () => {
      if (done) return;
      done = true;
      inFlight--;
      clearTimeout(timer);
      clearTimeout(bodyTimer);
      clearTimeout(waitTimer);
      slot.release();
      // The upstream may answer before reading the whole body (a 401 to an upload): a client still sending would
      // keep the upstream socket busy after its slot was given back.
      if (!req.complete) upstreamReq?.destroy();
      if (!res.writableFinished && !failure) {
        failure = 'ClientAborted';
        failureDetail = 'the client closed the connection before the response was complete';
      }
      const credential = readCredential(req.headers.authorization);
      const credentials = credential?.secrets ?? [];
      sink.record({
        startedAt,
        durationMs: clock() - startedAt,
        method: req.method ?? 'GET',
        path,
        query,
        tokenFingerprint: credential?.fingerprint ?? null,
        clientIp,
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
        requestContentEncoding: req.headers['content-encoding'] ?? null,
        responseContentEncoding,
        credentials: sniffer ? [...credentials, ...sniffer.values()] : credentials,
        failure,
        failureDetail,
      });
    };

    /** scimtap answers itself (SCIM error body) and gives up the upstream request and its slot. */
    const fail = (
      code: 408 | 429 | 502 | 504,
      kind: ExchangeFailure,
      what: string,
      detail: string,
      extraHeaders: http.OutgoingHttpHeaders = {},
    ) => {
      if (failure) return;
      failure = kind;
      failureDetail = detail;
      upstreamReq?.destroy();
      slot.release();
      if (!res.headersSent) {
        httpStatus = code;
        const body = scimError(code, `scimtap: ${what}: ${detail}`);
        responseContentType = 'application/scim+json';
        resTap.push(body);
        const headers: http.OutgoingHttpHeaders = {
          ...extraHeaders,
          'content-type': 'application/scim+json',
          'content-length': body.length,
        };
        // A client still sending its body (a slow upload, or a slow-POST attack) would otherwise keep the
        // socket while Node reads the rest to reuse the connection: close it once the answer is out.
        if (!req.complete) headers.connection = 'close';
        res.writeHead(code, headers);
        res.end(body);
      } else {
        // Status and part of the body are already with the client: the only honest signal left is a cut.
        res.destroy();
      }
    };

    const sendUpstream = () => {
      const r = request({
        protocol: base.protocol,
        hostname: base.hostname,
        port: base.port || (secure ? 443 : 80),
        method: req.method,
        path: joinPath(basePath, rawUrl),
        headers: forwardHeaders(req.rawHeaders, base.host),
        agent,
      });
      r.on('response', onResponse);
      r.on('error', (err: NodeJS.ErrnoException) => onUpstreamError(r, err));
      return r;
    };

    // The timeout covers the whole exchange, body included (issue 7 §3): a body still flowing at the deadline
    // is cut, and the client sees an incomplete response. Entra abandons a call after about the same time, so
    // waiting longer would hold a socket for an answer nobody reads; raise SCIMTAP_UPSTREAM_TIMEOUT_MS instead.
    const timer = setTimeout(
      () => fail(504, 'Timeout', 'upstream timeout', `no complete answer within ${timeoutMs} ms`),
      timeoutMs,
    );
    // The body has its own, shorter deadline from the headers on (issue 10 §2): a client that trickles its body
    // holds an upstream socket all along. Entra's bodies are a few kB and arrive at once. Recorded as
    // ClientAborted: like a client that hangs up, it says nothing about the app.
    const bodyTimer = hasBody(req)
      ? setTimeout(() => {
          if (req.complete) return;
          fail(
            408,
            'ClientAborted',
            'request body timeout',
            `the request body did not arrive within ${bodyTimeoutMs} ms`,
          );
        }, bodyTimeoutMs)
      : undefined;

    const onResponse = (upRes: IncomingMessage) => {
      const status = upRes.statusCode ?? 502;
      const headers = responseHeaders(upRes.rawHeaders);
      try {
        res.writeHead(status, upRes.statusMessage, headers);
      } catch {
        // Node's client parser accepts answers its server refuses to write (status 000 or 099, a control
        // character in the reason phrase); a throw here would crash the process. The reason phrase carries no
        // meaning (RFC 9112 §4), so drop it; if the status or a header is the problem, answer 502.
        res.statusMessage = '';
        try {
          res.writeHead(status, headers);
        } catch (err) {
          upRes.resume();
          fail(
            502,
            'UpstreamUnreachable',
            'upstream unreachable',
            `the upstream's answer cannot be forwarded: ${(err as Error).message}`,
          );
          return;
        }
      }
      httpStatus = status;
      responseContentType = upRes.headers['content-type'] ?? null;
      responseContentEncoding = upRes.headers['content-encoding'] ?? null;
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
    };

    // Bodiless idempotent requests can be replayed; others have been streamed and are gone.
    let canRetry = !hasBody(req) && idempotent.has(req.method ?? 'GET');
    const onUpstreamError = (r: http.ClientRequest, err: NodeJS.ErrnoException) => {
      if (done || failure || r !== upstreamReq) return;
      // A pooled socket the upstream closed just as we reused it: the upstream never saw this request, so
      // a 502 would be scimtap's fault. Node's documented remedy is one retry on a fresh connection.
      if (canRetry && r.reusedSocket && httpStatus === null && staleSocketCodes.has(err.code ?? '')) {
        canRetry = false;
        req.unpipe(r);
        upstreamReq = sendUpstream();
        upstreamReq.end();
        return;
      }
      fail(
        502,
        'UpstreamUnreachable',
        'upstream unreachable',
        err.code ? `${err.code} ${err.message}` : err.message,
      );
    };

    // Under the capture limit this costs nothing: the recorder's stage reads secrets from the captured copy.
    // Past it, the kept prefix and every later byte go through the sniffer (constant work per byte).
    const sniff = isRedacted !== null && captureLimitBytes > 0 && !req.headers['content-encoding'];
    // Reading the body starts only here: a request waiting for its turn leaves it in the socket.
    const start = () => {
      if (done || failure) return;
      clearTimeout(waitTimer);
      upstreamReq = sendUpstream();
      req.on('data', (chunk: Buffer) => {
        const kept = reqTap.push(chunk);
        if (!sniff || kept === chunk.length) return;
        if (!sniffer) {
          sniffer = createSecretSniffer(isRedacted, isForm(req.headers['content-type']));
          const prefix = reqTap.body();
          if (prefix) sniffer.push(prefix);
        }
        sniffer.push(kept === 0 ? chunk : chunk.subarray(kept));
      });
      req.pipe(upstreamReq);
    };

    const slot: Slot = fair.admit(addressKey(clientIp ?? ''), start);
    req.on('error', () => upstreamReq?.destroy());
    res.on('close', () => {
      if (!res.writableFinished) upstreamReq?.destroy();
      finish();
    });

    // Over its share, a client is told to come back (RFC 6585 §4) rather than take sockets from the others.
    const throttled = (detail: string) =>
      fail(429, 'ClientThrottled', 'too many concurrent requests from this client', detail, {
        'retry-after': String(Math.max(1, Math.ceil(clientQueueMs / 1_000))),
      });
    const share = `its ${clientConcurrency} concurrent upstream requests`;
    if (slot.admission === 'now') start();
    else if (slot.admission === 'refused') throttled(`this client already has ${share} and as many waiting`);
    else {
      waitTimer = setTimeout(
        () => throttled(`this client has ${share} in use, and none freed within ${clientQueueMs} ms`),
        clientQueueMs,
      );
    }
  }

  /**
   * A client outside SCIMTAP_TRUSTED_CLIENTS: answered here with a SCIM 403, never forwarded, recorded as
   * unrecognised. Its body is not read: the connection closes after the answer.
   */
  function refuseClient(req: IncomingMessage, res: ServerResponse, clientIp: string | null): void {
    const startedAt = clock();
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const body = scimError(
      403,
      `${REFUSED_REASON}: client ${clientIp ?? 'unknown'} is not in SCIMTAP_TRUSTED_CLIENTS`,
    );
    const credential = readCredential(req.headers.authorization);
    res.writeHead(403, {
      'content-type': 'application/scim+json',
      'content-length': body.length,
      connection: 'close',
    });
    res.end(body);
    req.resume();
    sink.record({
      startedAt,
      durationMs: clock() - startedAt,
      method: req.method ?? 'GET',
      path: q === -1 ? rawUrl : rawUrl.slice(0, q),
      query: q === -1 ? '' : rawUrl.slice(q + 1),
      tokenFingerprint: credential?.fingerprint ?? null,
      clientIp,
      userAgent: req.headers['user-agent'] ?? null,
      requestContentType: req.headers['content-type'] ?? null,
      requestBody: null,
      requestBytes: 0,
      requestTruncated: false,
      httpStatus: 403,
      responseContentType: 'application/scim+json',
      responseBody: captureLimitBytes > 0 ? body : null,
      responseBytes: body.length,
      responseTruncated: false,
      failure: null,
      failureDetail: null,
      refused: 'untrustedClient',
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
    JSON.stringify({
      schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
      status: String(status),
      detail,
    }),
  );
}

/** `<upstream base path>/<rest>?<query>`, joined with exactly one slash. */
export function joinPath(basePath: string, rawUrl: string): string {
  const rest = rawUrl.startsWith('/') ? rawUrl : `/${rawUrl}`;
  return `${basePath}${rest}`;
}

function isForm(contentType: string | undefined): boolean {
  return contentType?.trim().toLowerCase().startsWith('application/x-www-form-urlencoded') ?? false;
}

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * The client's headers as it sent them (names, case, order, repeats), less hop-by-hop ones, with Host set to the
 * upstream's in its place. Node sends an array of raw headers as given, and then adds no Host of its own.
 */
export function forwardHeaders(raw: string[], upstreamHost: string): string[] {
  let listed: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].toLowerCase() === 'connection') listed = connectionListed(raw[i + 1], listed);
  }
  const out: string[] = [];
  let host = false;
  let chunkedName: string | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    const lower = name.toLowerCase();
    if (lower === 'host') {
      if (!host) out.push(name, upstreamHost);
      host = true;
    } else if (lower === 'transfer-encoding') {
      chunkedName ??= name;
    } else if (!hopByHop.has(lower) && !listed?.has(lower)) {
      out.push(name, raw[i + 1]);
    }
  }
  if (!host) out.unshift('Host', upstreamHost);
  // Node's server has de-chunked the body; re-chunk it explicitly. Left to itself, Node's client sends the body
  // of a GET or DELETE (no chunking by default for those methods) raw after the head, where the upstream would
  // read it as the next request on a pooled connection: request smuggling and response desync.
  if (chunkedName !== null) out.push(chunkedName, 'chunked');
  return out;
}

function responseHeaders(raw: string[]): string[] {
  let listed: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].toLowerCase() === 'connection') listed = connectionListed(raw[i + 1], listed);
  }
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    if (name === 'host' || hopByHop.has(name) || listed?.has(name)) continue;
    out.push(raw[i], raw[i + 1]);
  }
  return out;
}

function connectionListed(value: string | undefined, into?: Set<string>): Set<string> | undefined {
  if (!value) return into;
  const set = into ?? new Set<string>();
  for (const s of value.split(',')) set.add(s.trim().toLowerCase());
  return set;
}

/**
 * The client's address. X-Forwarded-For is anyone's to write, so it is believed only when the socket's peer is
 * a trusted proxy, and then read from the right: each trusted hop appended the address it saw, and the first
 * address not itself a trusted proxy is the client (a client's own forged entries sit to the left of it).
 */
export function clientAddress(
  req: Pick<IncomingMessage, 'headers' | 'socket'>,
  trustedProxies?: AddressSet,
): string | null {
  const peer = normaliseAddress(req.socket.remoteAddress) ?? req.socket.remoteAddress ?? null;
  if (!trustedProxies?.has(peer)) return peer;
  const header = req.headers['x-forwarded-for'];
  const hops = (Array.isArray(header) ? header.join(',') : (header ?? ''))
    .split(',')
    .map((h) => h.trim())
    .filter(Boolean);
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = normaliseAddress(hops[i]);
    if (hop === null) return peer; // garbage in the chain: trust only what the socket says
    if (!trustedProxies.has(hop)) return hop;
  }
  return normaliseAddress(hops[0]) ?? peer;
}
