// Turns a captured body into the text the app meant: Content-Encoding undone (bounded), then the charset.
// Pure: zlib's synchronous calls do CPU work only, and run in the recorder's stage, off the forwarding path.
import zlib from 'node:zlib';

export interface DecodedBody {
  /** the body's text; null when it could not be decoded */
  text: string | null;
  /** the text is a prefix of the body (the capture cut it, or the decoded size hit the cap) */
  truncated: boolean;
  /** why the body could not be decoded (a bomb, an unknown or broken encoding), else null */
  undecodable: string | null;
}

const MAX_LAYERS = 3;

/**
 * `buf` decoded per `Content-Encoding` (gzip, deflate, br; listed in the order applied) and `Content-Type`'s
 * charset (or a BOM). Decompression stops at `maxBytes` of output: a body that would inflate past it is a bomb
 * (or more than we keep) and is reported undecodable rather than held in memory.
 */
export function decodeBody(
  buf: Buffer | null,
  contentEncoding: string | null | undefined,
  contentType: string | null | undefined,
  truncated: boolean,
  maxBytes: number,
): DecodedBody {
  if (!buf || buf.length === 0) return { text: null, truncated, undecodable: null };
  let bytes = buf;
  const codings = String(contentEncoding ?? '')
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '' && c !== 'identity');
  if (codings.length > MAX_LAYERS) return undecodable(truncated, `${codings.length} content codings`);
  for (const coding of codings.reverse()) {
    try {
      bytes = inflate(bytes, coding, truncated, maxBytes);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError)
        return undecodable(truncated, `${coding} body inflates past ${maxBytes} bytes`);
      return undecodable(truncated, `${coding} body does not decode`);
    }
  }
  return { text: textOf(bytes, contentType), truncated, undecodable: null };
}

function undecodable(truncated: boolean, why: string): DecodedBody {
  return { text: null, truncated, undecodable: why };
}

function inflate(bytes: Buffer, coding: string, truncated: boolean, maxBytes: number): Buffer {
  // A cut capture ends mid-stream: a sync flush gives back what the prefix decodes to instead of an error.
  const options = {
    maxOutputLength: maxBytes,
    ...(truncated ? { finishFlush: zlib.constants.Z_SYNC_FLUSH } : {}),
  };
  switch (coding) {
    case 'gzip':
    case 'x-gzip':
      return zlib.gunzipSync(bytes, options);
    case 'deflate':
      // RFC 9110 says zlib-wrapped; some servers send raw deflate
      try {
        return zlib.inflateSync(bytes, options);
      } catch (err) {
        if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw err;
        return zlib.inflateRawSync(bytes, options);
      }
    case 'br':
      return zlib.brotliDecompressSync(bytes, {
        maxOutputLength: maxBytes,
        ...(truncated ? { finishFlush: zlib.constants.BROTLI_OPERATION_FLUSH } : {}),
      });
    default:
      throw new Error(`unknown content coding ${coding}`);
  }
}

/** Text by BOM first, then the declared charset (UTF-16 only; everything else is read as UTF-8). */
export function textOf(bytes: Buffer, contentType: string | null | undefined): string {
  if (bytes.length >= 2 && bytes[0] === 0xff && bytes[1] === 0xfe)
    return new TextDecoder('utf-16le').decode(bytes.subarray(2));
  if (bytes.length >= 2 && bytes[0] === 0xfe && bytes[1] === 0xff)
    return new TextDecoder('utf-16be').decode(bytes.subarray(2));
  const charset = charsetOf(contentType);
  if (charset === 'utf-16le' || charset === 'utf-16be') return new TextDecoder(charset).decode(bytes);
  if (charset === 'utf-16') {
    // no BOM: RFC 2781 says big-endian, but Windows apps write little-endian; ASCII text shows which
    const le = bytes.length >= 2 && bytes[0] !== 0 && bytes[1] === 0;
    return new TextDecoder(le ? 'utf-16le' : 'utf-16be').decode(bytes);
  }
  // invalid UTF-8 becomes U+FFFD rather than an exception
  return bytes.toString('utf8');
}

function charsetOf(contentType: string | null | undefined): string | null {
  if (typeof contentType !== 'string') return null;
  const lower = contentType.toLowerCase();
  const at = lower.indexOf('charset=');
  if (at === -1) return null;
  let v = lower.slice(at + 8);
  const end = v.indexOf(';');
  if (end !== -1) v = v.slice(0, end);
  return v.replace(/"/g, '').trim();
}

/** `application/x-www-form-urlencoded`, whatever the parameters. */
export function isFormType(contentType: string | null | undefined): boolean {
  return (
    typeof contentType === 'string' &&
    contentType.trim().toLowerCase().startsWith('application/x-www-form-urlencoded')
  );
}
