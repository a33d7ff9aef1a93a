import { decodeBody } from './decode.js';
import { getKey, isObject } from './json.js';
import { jsonDeeperThan, MAX_JSON_DEPTH } from './redact.js';
import { MAX_PARSED_BODY_CHARS } from './request-line.js';

// Bodies: a captured body decoded and parsed once, within the parse caps, and a ListResponse read from it.

export const LIST_RESPONSE_URN = 'urn:ietf:params:scim:api:messages:2.0:listresponse';

export interface CapturedBody {
  /** captured, decoded text; null when not captured or empty */
  text: string | null;
  /**
   * `unparsed`: captured but not parsed, because longer than MAX_PARSED_BODY_CHARS (the text is not kept either)
   * or nested deeper than MAX_JSON_DEPTH (kept, redacted by the tolerant scanner).
   * `undecodable`: compressed past the inflate cap (a bomb) or in an unknown coding: it cannot be judged.
   */
  state: 'empty' | 'uncaptured' | 'truncated' | 'captured' | 'unparsed' | 'undecodable';
  unparsed?: 'long' | 'deep';
  /** parsed JSON when the whole body was captured and parses */
  json: unknown;
  parsed: boolean;
  /** the text is a prefix of the body */
  truncated: boolean;
}

export const DEFAULT_CAPTURE_LIMIT = 65_536;

export function readBody(
  buf: Buffer | null,
  bytes: number,
  truncated: boolean,
  encoding: string | null | undefined,
  contentType: string | null | undefined,
  captureLimit: number,
): CapturedBody {
  const has = buf != null && buf.length > 0;
  if (!has)
    return {
      text: null,
      state: bytes > 0 ? 'uncaptured' : 'empty',
      json: undefined,
      parsed: false,
      truncated,
    };
  const bytesIn = Buffer.isBuffer(buf) ? buf : Buffer.from(buf);
  const decoded = decodeBody(bytesIn, encoding, contentType, truncated, captureLimit * 4);
  if (decoded.text === null)
    return {
      text: `[body not decoded: ${decoded.undecodable}]`,
      state: 'undecodable',
      json: undefined,
      parsed: false,
      truncated,
    };
  const text = decoded.text;
  if (text.length > MAX_PARSED_BODY_CHARS)
    return {
      text,
      state: 'unparsed',
      unparsed: 'long',
      json: undefined,
      parsed: false,
      truncated: decoded.truncated,
    };
  if (decoded.truncated) return { text, state: 'truncated', json: undefined, parsed: false, truncated: true };
  // V8's JSON.parse slows down faster than the text grows on deep nesting (64k `[`: 10 ms and climbing)
  if (jsonDeeperThan(text, MAX_JSON_DEPTH))
    return { text, state: 'unparsed', unparsed: 'deep', json: undefined, parsed: false, truncated: false };
  try {
    return {
      text,
      state: 'captured',
      json: JSON.parse(text.replace(/^\uFEFF/, '')),
      parsed: true,
      truncated: false,
    };
  } catch {
    return { text, state: 'captured', json: undefined, parsed: false, truncated: false };
  }
}

export interface ListInfo {
  resources: unknown[];
}

export function asListResponse(v: unknown): ListInfo | null {
  if (!isObject(v)) return null;
  const resources = getKey(v, 'Resources');
  if (Array.isArray(resources)) return { resources };
  if (resources != null) return null;
  const schemas = getKey(v, 'schemas');
  const hasSchema =
    Array.isArray(schemas) &&
    schemas.some((s) => typeof s === 'string' && s.toLowerCase() === LIST_RESPONSE_URN);
  const total = Number(getKey(v, 'totalResults'));
  // RFC 7644 §3.4.2: Resources may be left out only when there are no results
  if (total === 0 || (hasSchema && getKey(v, 'totalResults') === undefined)) return { resources: [] };
  return null;
}
