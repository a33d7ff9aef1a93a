import type { IncomingMessage } from 'node:http';
import type { Exchange, ExchangeFailure } from '../scim/types.js';
import type { RequestCapture, ResponseCapture } from './capture.js';
import type { BodyTap, Credential } from './tap.js';

// The Exchange records the proxy hands to its sink: one per request, forwarded or answered by scimtap itself.

export interface ExchangeSink {
  /** Must return at once and never throw: the proxy does not wait for recording. */
  record(exchange: Exchange): void;
}

/** When and from whom a request came, and what it asked for. */
export interface Arrival {
  startedAt: number;
  /** as received, without the query string, not decoded */
  path: string;
  query: string;
  clientIp: string | null;
}

/** A request target split at its first `?`. */
export function splitTarget(rawUrl: string): { path: string; query: string } {
  const q = rawUrl.indexOf('?');
  return { path: q === -1 ? rawUrl : rawUrl.slice(0, q), query: q === -1 ? '' : rawUrl.slice(q + 1) };
}

/** The fields every recorded exchange takes from the request's line and headers. */
function requestLine(req: IncomingMessage, arrival: Arrival, credential: Credential | null, now: number) {
  return {
    startedAt: arrival.startedAt,
    durationMs: now - arrival.startedAt,
    method: req.method ?? 'GET',
    path: arrival.path,
    query: arrival.query,
    tokenFingerprint: credential?.fingerprint ?? null,
    clientIp: arrival.clientIp,
    userAgent: req.headers['user-agent'] ?? null,
    requestContentType: req.headers['content-type'] ?? null,
  };
}

/** How a forwarded request went: both bodies as captured and, when it did not complete normally, why. */
export interface Forwarded {
  readonly request: RequestCapture;
  readonly response: ResponseCapture;
  failure: ExchangeFailure | null;
  failureDetail: string | null;
}

export function forwardedExchange(
  req: IncomingMessage,
  arrival: Arrival,
  credential: Credential | null,
  now: number,
  { request, response, failure, failureDetail }: Forwarded,
): Exchange {
  const headers = req.headers;
  // One literal with every field, not requestLine() spread into it: this runs once per forwarded request, and
  // a spread followed by a dozen more properties built the object a property at a time (issue 12 §1).
  return {
    startedAt: arrival.startedAt,
    durationMs: now - arrival.startedAt,
    method: req.method ?? 'GET',
    path: arrival.path,
    query: arrival.query,
    tokenFingerprint: credential?.fingerprint ?? null,
    clientIp: arrival.clientIp,
    userAgent: headers['user-agent'] ?? null,
    requestContentType: headers['content-type'] ?? null,
    requestBody: request.tap.body(),
    requestBytes: request.tap.bytes,
    requestTruncated: request.tap.truncated,
    httpStatus: response.httpStatus,
    responseContentType: response.contentType,
    responseBody: response.tap.body(),
    responseBytes: response.tap.bytes,
    responseTruncated: response.tap.truncated,
    requestContentEncoding: headers['content-encoding'] ?? null,
    responseContentEncoding: response.contentEncoding,
    credentials: request.secrets(credential?.secrets ?? []),
    failure,
    failureDetail,
  };
}

/** A request scimtap answered with its own 400 and forwarded nothing of (failure `Refused`). */
export function refusedExchange(
  req: IncomingMessage,
  arrival: Arrival,
  credential: Credential | null,
  now: number,
  requestTap: BodyTap,
  body: Buffer,
  detail: string,
): Exchange {
  return {
    ...requestLine(req, arrival, credential, now),
    requestBody: requestTap.body(),
    // the recorder's stage scrubs these from every stored field
    credentials: credential?.secrets ?? [],
    requestBytes: requestTap.bytes,
    requestTruncated: requestTap.truncated,
    httpStatus: 400,
    responseContentType: 'application/scim+json',
    responseBody: body,
    responseBytes: body.length,
    responseTruncated: false,
    failure: 'Refused',
    failureDetail: detail,
  };
}

/** A client outside SCIMTAP_TRUSTED_CLIENTS, answered 403; its body is not read. */
export function untrustedClientExchange(
  req: IncomingMessage,
  arrival: Arrival,
  credential: Credential | null,
  now: number,
  body: Buffer,
  captureLimitBytes: number,
): Exchange {
  return {
    ...requestLine(req, arrival, credential, now),
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
  };
}
