import { createHash } from 'node:crypto';

/** Keeps the first `limit` bytes of a stream and counts all of them; never holds more than `limit`. */
export class BodyTap {
  private chunks: Buffer[] = [];
  private kept = 0;
  bytes = 0;

  constructor(private readonly limit: number) {}

  push(chunk: Buffer): void {
    this.bytes += chunk.length;
    if (this.kept >= this.limit) return;
    const take = Math.min(chunk.length, this.limit - this.kept);
    // subarray shares memory with the chunk; copy so we do not pin large socket buffers
    this.chunks.push(take === chunk.length ? chunk : Buffer.from(chunk.subarray(0, take)));
    this.kept += take;
  }

  get truncated(): boolean {
    return this.bytes > this.kept;
  }

  body(): Buffer | null {
    if (this.kept === 0) return null;
    return this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.kept);
  }
}

export interface Credential {
  /** first 12 hex digits of SHA-256 of the credential (ARCHITECTURE §3) */
  fingerprint: string;
  /** the credential itself, to scrub from recorded copies (never stored) */
  secret: Buffer;
}

/**
 * Reads the Authorization header once per distinct value: Entra sends the same token on every call, so the
 * last answer is cached and the request path pays one string comparison. A rotated or wrong token shows as a
 * new fingerprint without being kept.
 */
export function createCredentialReader(): (authorization: string | undefined) => Credential | null {
  let lastHeader: string | undefined;
  let last: Credential | null = null;
  return (authorization) => {
    if (!authorization) return null;
    if (authorization === lastHeader) return last;
    const secret = credentialOf(authorization) ?? '';
    lastHeader = authorization;
    last = {
      fingerprint: createHash('sha256').update(secret).digest('hex').slice(0, 12),
      secret: Buffer.from(secret),
    };
    return last;
  };
}

const REDACTED = Buffer.from('[redacted]');

/** The credential an Authorization header carries: the bearer token, else the whole value. */
export function credentialOf(authorization: string | undefined): string | null {
  if (!authorization) return null;
  // trim() and an anchored prefix, not /^\s*Bearer\s+(.+?)\s*$/: its lazy group rescanned the trailing
  // spaces from every position, quadratic in a header of spaces
  const value = authorization.trim();
  const m = /^Bearer\s+/i.exec(value);
  return m && m[0].length < value.length ? value.slice(m[0].length) : value;
}

/**
 * A copy of a captured body with every occurrence of `secret` replaced. Apps reflect the token they rejected
 * in their error detail ("The token … is not valid"), and the detail becomes the stored reason and the email's
 * sample. Only the recorded copy changes; the forwarded bytes never do. Short values are left alone: replacing
 * every "abc" in a body would hide more than it protects.
 */
export function scrubSecret(body: Buffer | null, secret: Buffer | string | null): Buffer | null {
  if (!body || !secret || secret.length < 8) return body;
  const needle = typeof secret === 'string' ? Buffer.from(secret) : secret;
  let at = body.indexOf(needle);
  if (at === -1) return body;
  const parts: Buffer[] = [];
  let from = 0;
  while (at !== -1) {
    parts.push(body.subarray(from, at), REDACTED);
    from = at + needle.length;
    at = body.indexOf(needle, from);
  }
  parts.push(body.subarray(from));
  return Buffer.concat(parts);
}
