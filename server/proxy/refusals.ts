import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { type Arrival, type ExchangeSink, refusedExchange, untrustedClientExchange } from './exchange.js';
import { hasBody } from './headers.js';
import { BodyTap, type Credential } from './tap.js';

/** how the detail (and so the recorded reason) of a request scimtap refused itself begins */
export const REFUSED_REASON = 'scimtap refused the request';

export function scimError(status: number, detail: string): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
      status: String(status),
      detail,
    }),
  );
}

/** Writes scimtap's own SCIM error; `close`: the client's body will not be read, so the connection ends. */
export function sendScimError(
  res: ServerResponse,
  status: number,
  body: Buffer,
  close: boolean,
  extraHeaders: OutgoingHttpHeaders = {},
): void {
  const headers: OutgoingHttpHeaders = {
    ...extraHeaders,
    'content-type': 'application/scim+json',
    'content-length': body.length,
  };
  if (close) headers.connection = 'close';
  res.writeHead(status, headers);
  res.end(body);
}

/**
 * scimtap's own SCIM error for a request whose body it will not read (no app at that path, an app restarting):
 * the body is drained, and the connection closes when more of it is still to come.
 */
export function answerUnread(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  body: Buffer,
  extraHeaders: OutgoingHttpHeaders = {},
): void {
  req.on('error', () => {});
  req.resume();
  sendScimError(res, status, body, hasBody(req) && !req.complete, extraHeaders);
}

export interface RefusalOptions {
  sink: ExchangeSink;
  clock: () => number;
  readCredential: (authorization: string | undefined) => Credential | null;
  captureLimitBytes: number;
}

/** The requests scimtap answers itself before forwarding anything, each recorded. */
export function createRefusals({ sink, clock, readCredential, captureLimitBytes }: RefusalOptions) {
  /**
   * Answers a request scimtap will not forward with its own SCIM 400, and records it (failure `Refused`): it is
   * hostile traffic worth seeing. Nothing of it reaches the upstream.
   */
  function refuse(req: IncomingMessage, res: ServerResponse, arrival: Arrival, detail: string): void {
    const reqTap = new BodyTap(captureLimitBytes);
    const body = scimError(400, detail);
    // a body we will not read: answer now and close rather than wait for the rest of it
    const close = hasBody(req) && !req.complete;
    req.on('data', (chunk: Buffer) => reqTap.push(chunk));
    req.on('error', () => {});
    req.resume();
    let recorded = false;
    res.on('close', () => {
      if (recorded) return;
      recorded = true;
      const credential = readCredential(req.headers.authorization);
      sink.record(refusedExchange(req, arrival, credential, clock(), reqTap, body, detail));
    });
    sendScimError(res, 400, body, close);
  }

  /**
   * A client outside SCIMTAP_TRUSTED_CLIENTS: answered here with a SCIM 403, never forwarded, recorded as
   * unrecognised. Its body is not read: the connection closes after the answer.
   */
  function refuseClient(req: IncomingMessage, res: ServerResponse, arrival: Arrival): void {
    const body = scimError(
      403,
      `${REFUSED_REASON}: client ${arrival.clientIp ?? 'unknown'} is not in SCIMTAP_TRUSTED_CLIENTS`,
    );
    const credential = readCredential(req.headers.authorization);
    sendScimError(res, 403, body, true);
    req.resume();
    sink.record(untrustedClientExchange(req, arrival, credential, clock(), body, captureLimitBytes));
  }

  return { refuse, refuseClient };
}
