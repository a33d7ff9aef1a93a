import type { IncomingMessage } from 'node:http';
import type { Redactor } from '../scim/redact.js';
import { createSecretSniffer, type SecretSniffer } from '../scim/sniff.js';
import { BodyTap } from './tap.js';

/**
 * The request body as it streams to the upstream: the bounded copy classification reads and, past the capture
 * limit, the secret values of the rest, so that an app echoing one can be scrubbed.
 */
export class RequestCapture {
  readonly tap: BodyTap;
  private readonly sniff: boolean;
  private readonly contentType: string | undefined;
  private sniffer: SecretSniffer | null = null;

  constructor(
    req: IncomingMessage,
    limit: number,
    private readonly isRedacted: Redactor | null,
  ) {
    this.tap = new BodyTap(limit);
    this.contentType = req.headers['content-type'];
    // Under the capture limit this costs nothing: the recorder's stage reads secrets from the captured copy.
    // Past it, the kept prefix and every later byte go through the sniffer (constant work per byte).
    this.sniff = isRedacted !== null && limit > 0 && !req.headers['content-encoding'];
  }

  push(chunk: Buffer): void {
    const kept = this.tap.push(chunk);
    if (!this.sniff || kept === chunk.length) return;
    if (!this.sniffer) {
      this.sniffer = createSecretSniffer(this.isRedacted!, isForm(this.contentType));
      const prefix = this.tap.body();
      if (prefix) this.sniffer.push(prefix);
    }
    this.sniffer.push(kept === 0 ? chunk : chunk.subarray(kept));
  }

  /** `credentials` and the secret values sniffed past the capture limit */
  secrets(credentials: string[]): string[] {
    return this.sniffer ? [...credentials, ...this.sniffer.values()] : credentials;
  }
}

/** What the client was answered: the upstream's answer as it streams back, or scimtap's own. */
export class ResponseCapture {
  readonly tap: BodyTap;
  /** null until a status is sent: the client may go away first */
  httpStatus: number | null = null;
  contentType: string | null = null;
  contentEncoding: string | null = null;

  constructor(limit: number) {
    this.tap = new BodyTap(limit);
  }

  /** The upstream's answer, whose head has been forwarded; its body is kept as it streams (tap.push). */
  upstream(upRes: IncomingMessage): void {
    this.httpStatus = upRes.statusCode ?? 502;
    this.contentType = upRes.headers['content-type'] ?? null;
    this.contentEncoding = upRes.headers['content-encoding'] ?? null;
  }

  /** scimtap answered itself with a SCIM error. */
  own(status: number, body: Buffer): void {
    this.httpStatus = status;
    this.contentType = 'application/scim+json';
    this.tap.push(body);
  }
}

function isForm(contentType: string | undefined): boolean {
  return contentType?.trim().toLowerCase().startsWith('application/x-www-form-urlencoded') ?? false;
}
