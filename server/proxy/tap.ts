import { createHash } from 'node:crypto';
import { authorizationSecrets } from '../scim/secrets.js';

/** Keeps the first `limit` bytes of a stream and counts all of them; never holds more than `limit`. */
export class BodyTap {
  private chunks: Buffer[] = [];
  private kept = 0;
  bytes = 0;

  constructor(private readonly limit: number) {}

  /** Returns how many bytes of `chunk` were kept. */
  push(chunk: Buffer): number {
    this.bytes += chunk.length;
    if (this.kept >= this.limit) return 0;
    const take = Math.min(chunk.length, this.limit - this.kept);
    // subarray shares memory with the chunk; copy so we do not pin large socket buffers
    this.chunks.push(take === chunk.length ? chunk : Buffer.from(chunk.subarray(0, take)));
    this.kept += take;
    return take;
  }

  get truncated(): boolean {
    return this.bytes > this.kept;
  }

  /**
   * The kept bytes. Several chunks are joined into a buffer of their own, which no one else holds: the log writer
   * thread's hand-off moves it rather than copying it again (`isOwnBody`). A single chunk is returned as is.
   */
  body(): Buffer | null {
    if (this.kept === 0) return null;
    if (this.chunks.length === 1) return this.chunks[0];
    const out = Buffer.allocUnsafeSlow(this.kept);
    let at = 0;
    for (const chunk of this.chunks) {
      out.set(chunk, at);
      at += chunk.length;
    }
    ownBuffers.add(out.buffer);
    return out;
  }
}

/** The ArrayBuffers of bodies a tap joined (see body()): each holds one body and nothing else references it. */
const ownBuffers = new WeakSet<ArrayBufferLike>();

/** Whether `body` is all of a buffer a tap joined for it, and so may be transferred to another thread as is. */
export function isOwnBody(body: Buffer): boolean {
  return body.byteOffset === 0 && body.byteLength === body.buffer.byteLength && ownBuffers.has(body.buffer);
}

export interface Credential {
  /** first 12 hex digits of SHA-256 of the credential (ARCHITECTURE §3) */
  fingerprint: string;
  /** the secrets the header carries, to scrub from recorded copies in the recorder's stage (never stored) */
  secrets: string[];
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
      secrets: authorizationSecrets(authorization),
    };
    return last;
  };
}

/** The credential an Authorization header carries: the bearer token, else the whole value. */
export function credentialOf(authorization: string | undefined): string | null {
  if (!authorization) return null;
  // trim() and an anchored prefix, not /^\s*Bearer\s+(.+?)\s*$/: its lazy group rescanned the trailing
  // spaces from every position, quadratic in a header of spaces
  const value = authorization.trim();
  const m = /^Bearer\s+/i.exec(value);
  return m && m[0].length < value.length ? value.slice(m[0].length) : value;
}
