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

/**
 * First 12 hex digits of SHA-256 of the bearer token (ARCHITECTURE §3): a rotated or wrong token is visible
 * without being kept. Entra sends the same token on every call, so the last answer is cached.
 */
export function createFingerprinter(): (authorization: string | undefined) => string | null {
  let lastHeader: string | undefined;
  let lastPrint: string | null = null;
  return (authorization) => {
    if (!authorization) return null;
    if (authorization === lastHeader) return lastPrint;
    const m = /^\s*Bearer\s+(.+?)\s*$/i.exec(authorization);
    const secret = m ? m[1] : authorization;
    lastHeader = authorization;
    lastPrint = createHash('sha256').update(secret).digest('hex').slice(0, 12);
    return lastPrint;
  };
}

const REDACTED = Buffer.from('[redacted]');

/** The credential an Authorization header carries: the bearer token, else the whole value. */
export function credentialOf(authorization: string | undefined): string | null {
  if (!authorization) return null;
  const m = /^\s*Bearer\s+(.+?)\s*$/i.exec(authorization);
  return m ? m[1] : authorization.trim();
}

/**
 * A copy of a captured body with every occurrence of `secret` replaced. Apps reflect the token they rejected
 * in their error detail ("The token … is not valid"), and the detail becomes the stored reason and the email's
 * sample. Only the recorded copy changes; the forwarded bytes never do. Short values are left alone: replacing
 * every "abc" in a body would hide more than it protects.
 */
export function scrubSecret(body: Buffer | null, secret: string | null): Buffer | null {
  if (!body || !secret || secret.length < 8) return body;
  const needle = Buffer.from(secret);
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
