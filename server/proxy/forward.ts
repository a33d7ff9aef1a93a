import type http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Redactor } from '../scim/redact.js';
import type { ExchangeFailure } from '../scim/types.js';
import type { Admission } from './admission.js';
import { RequestCapture, ResponseCapture } from './capture.js';
import { type Arrival, type ExchangeSink, type Forwarded, forwardedExchange } from './exchange.js';
import { hasBody } from './headers.js';
import { scimError, sendScimError } from './refusals.js';
import { relay } from './relay.js';
import type { Credential } from './tap.js';
import { canReplay, isStaleSocket, type Upstream, writeResponseHead } from './upstream.js';

export interface ForwardContext {
  target: Upstream;
  admission: Admission;
  sink: ExchangeSink;
  clock: () => number;
  readCredential: (authorization: string | undefined) => Credential | null;
  isRedacted: Redactor | null;
  captureLimitBytes: number;
  timeoutMs: number;
  bodyTimeoutMs: number;
  /** called once for each forwarded request, when it has ended */
  finished(): void;
}

/** What the stages of one forwarded exchange share while it runs. A failure once set stands. */
interface Forwarding extends Forwarded {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  done: boolean;
  upstreamReq: http.ClientRequest | undefined;
}

/** scimtap answers itself (SCIM error body) and gives up the upstream request and its slot. */
type Fail = (
  code: 408 | 429 | 502 | 504,
  kind: ExchangeFailure,
  what: string,
  detail: string,
  extraHeaders?: http.OutgoingHttpHeaders,
) => void;

/**
 * Sends a request to the upstream once its client's share admits it, and the answer back; records the exchange
 * when the client's response closes.
 */
export function forward(
  ctx: ForwardContext,
  req: IncomingMessage,
  res: ServerResponse,
  rawUrl: string,
  arrival: Arrival,
): void {
  const { timeoutMs, bodyTimeoutMs } = ctx;
  const x: Forwarding = {
    req,
    res,
    request: new RequestCapture(req, ctx.captureLimitBytes, ctx.isRedacted),
    response: new ResponseCapture(ctx.captureLimitBytes),
    failure: null,
    failureDetail: null,
    done: false,
    upstreamReq: undefined,
  };

  const finish = () => {
    if (x.done) return;
    x.done = true;
    ctx.finished();
    clearTimeout(timer);
    clearTimeout(bodyTimer);
    turn.release();
    // The upstream may answer before reading the whole body (a 401 to an upload): a client still sending would
    // keep the upstream socket busy after its slot was given back.
    if (!req.complete) x.upstreamReq?.destroy();
    if (!res.writableFinished && !x.failure) {
      x.failure = 'ClientAborted';
      x.failureDetail = 'the client closed the connection before the response was complete';
    }
    const credential = ctx.readCredential(req.headers.authorization);
    ctx.sink.record(forwardedExchange(req, arrival, credential, ctx.clock(), x));
  };

  const fail: Fail = (code, kind, what, detail, extraHeaders = {}) => {
    if (x.failure) return;
    x.failure = kind;
    x.failureDetail = detail;
    x.upstreamReq?.destroy();
    turn.release();
    if (!res.headersSent) {
      const body = scimError(code, `scimtap: ${what}: ${detail}`);
      x.response.own(code, body);
      // A client still sending its body (a slow upload, or a slow-POST attack) would otherwise keep the
      // socket while Node reads the rest to reuse the connection: close it once the answer is out.
      sendScimError(res, code, body, !req.complete, extraHeaders);
    } else {
      // Status and part of the body are already with the client: the only honest signal left is a cut.
      res.destroy();
    }
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

  const turn = ctx.admission.admit(arrival.clientIp, upstreamCall(ctx.target, x, rawUrl, fail));
  req.on('error', () => x.upstreamReq?.destroy());
  res.on('close', () => {
    if (!res.writableFinished) x.upstreamReq?.destroy();
    finish();
  });
  turn.begin((detail, headers) =>
    fail(429, 'ClientThrottled', 'too many concurrent requests from this client', detail, headers),
  );
}

/**
 * The upstream call of an admitted request, as the function that starts it. Reading the body starts only then:
 * a request waiting for its turn leaves it in the socket. The answer is relayed as it streams.
 */
function upstreamCall(target: Upstream, x: Forwarding, rawUrl: string, fail: Fail): () => void {
  const { req, res, response } = x;

  const send = () => {
    const r = target.send(req, rawUrl);
    r.on('response', onResponse);
    r.on('error', (err: NodeJS.ErrnoException) => onUpstreamError(r, err));
    return r;
  };

  const onResponse = (upRes: IncomingMessage) => {
    const unwritable = writeResponseHead(res, upRes);
    if (unwritable) {
      upRes.resume();
      fail(
        502,
        'UpstreamUnreachable',
        'upstream unreachable',
        `the upstream's answer cannot be forwarded: ${unwritable.message}`,
      );
      return;
    }
    response.upstream(upRes);
    upRes.on('error', () => res.destroy());
    upRes.on('aborted', () => {
      if (!x.failure) {
        x.failure = 'UpstreamUnreachable';
        x.failureDetail = 'the upstream closed the connection in the middle of the response';
      }
      res.destroy();
    });
    relay(upRes, res, (chunk) => response.tap.push(chunk));
  };

  let canRetry = canReplay(req);
  const onUpstreamError = (r: http.ClientRequest, err: NodeJS.ErrnoException) => {
    if (x.done || x.failure || r !== x.upstreamReq) return;
    if (canRetry && response.httpStatus === null && isStaleSocket(r, err)) {
      canRetry = false;
      x.upstreamReq = send();
      x.upstreamReq.end();
      return;
    }
    fail(
      502,
      'UpstreamUnreachable',
      'upstream unreachable',
      err.code ? `${err.code} ${err.message}` : err.message,
    );
  };

  return () => {
    if (x.done || x.failure) return;
    x.upstreamReq = send();
    // Without Content-Length or Transfer-Encoding a request has no body (RFC 9112 §6.3): a lookup's GET is sent
    // as it is, and Node's server reads the empty body when the answer is out.
    if (hasBody(req)) relay(req, x.upstreamReq, (chunk) => x.request.push(chunk));
    else x.upstreamReq.end();
  };
}
