import { safeDecode } from './json.js';
import { MAX_JSON_DEPTH, MAX_NAME_CHARS } from './redact.js';
import type { ResourceType } from './types.js';

// The request line: which resource a path names, the query's parameters, and the filter (linear, capped).

// Map, not an object literal: a path segment like `constructor` must not hit Object.prototype.
export const RESOURCE_SEGMENTS = new Map<string, ResourceType>([
  ['users', 'User'],
  ['groups', 'Group'],
  ['schemas', 'Schema'],
  ['serviceproviderconfig', 'ServiceProviderConfig'],
  ['serviceproviderconfigs', 'ServiceProviderConfig'],
  ['resourcetypes', 'ResourceType'],
  ['bulk', 'Bulk'],
]);

export interface Target {
  resourceType: ResourceType;
  /** decoded segment after the resource segment */
  id: string | null;
  /** more segments after the id: a sub-resource we do not know */
  extra: boolean;
}

/** The last resource segment wins, so any upstream base path (`/scim/v2/...`) works. */
export function parseTarget(path: string): Target {
  const segs = String(path)
    .split('/')
    .filter((s) => s !== '');
  for (let i = segs.length - 1; i >= 0; i--) {
    const type = RESOURCE_SEGMENTS.get(safeDecode(segs[i]).trim().toLowerCase());
    if (type) {
      return {
        resourceType: type,
        id: i + 1 < segs.length ? safeDecode(segs[i + 1]) : null,
        extra: i + 2 < segs.length,
      };
    }
  }
  return { resourceType: 'Other', id: null, extra: false };
}

/** Query parameters, names lower-cased; a repeated parameter keeps its first non-empty value. */
export function parseQuery(query: string): Map<string, string> {
  const out = new Map<string, string>();
  const q = String(query).replace(/^\?/, '');
  if (q === '') return out;
  for (const part of q.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const rawName = eq >= 0 ? part.slice(0, eq) : part;
    const rawValue = eq >= 0 ? part.slice(eq + 1) : '';
    // form encoding: `+` is a space (Entra sends `filter=userName+eq+%22...%22`)
    const name = safeDecode(rawName.replace(/\+/g, ' ')).trim().toLowerCase();
    const value = safeDecode(rawValue.replace(/\+/g, ' '));
    if (!out.get(name)) out.set(name, value);
  }
  return out;
}

export interface Comparison {
  attribute: string;
  /** lower-case operator: eq, ne, co, sw, ew, gt, lt, ge, le, pr */
  op: string;
  value: string | null;
}

/**
 * Parse caps (issue 10): input longer than these is not parsed at all, and the operation's reason says so
 * (`unparsedNote`). Every parser below is also linear, so the caps bound the work of one request rather than
 * hide a quadratic one. Entra's filters and attribute paths are a few dozen characters.
 */
export const MAX_FILTER_CHARS = 4_096;
export const MAX_ATTRIBUTE_PATH_CHARS = MAX_NAME_CHARS;
/** captured body text parsed as JSON at most; the default capture limit (64 KiB) is well under it */
export const MAX_PARSED_BODY_CHARS = 1_048_576;

/** What the reason of an operation says when scimtap gave up on part of it; always starts "scimtap did not parse". */
export function unparsedNote(
  what: 'filter' | 'attribute' | 'request body' | 'response body',
  why: 'long' | 'deep' = 'long',
): string {
  if (why === 'deep') return `scimtap did not parse the ${what}: nested deeper than ${MAX_JSON_DEPTH} levels`;
  const cap =
    what === 'filter'
      ? `${MAX_FILTER_CHARS} characters`
      : what === 'attribute'
        ? `${MAX_ATTRIBUTE_PATH_CHARS} characters`
        : `${MAX_PARSED_BODY_CHARS} characters`;
  const subject = what === 'attribute' ? 'an attribute name' : `the ${what}`;
  return `scimtap did not parse ${subject}: longer than ${cap}`;
}

// JavaScript's \s, one character at a time (the regex parser this replaces used \s).
export const SPACE = /\s/;
export const isSpace = (c: string | undefined) => c !== undefined && SPACE.test(c);
export const isLetter = (c: string | undefined) =>
  c !== undefined && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));

/**
 * The first comparison of a SCIM filter: `userName eq "ada@example.com"` is all Entra sends. A hand parser
 * rather than scimmy's Filter, which throws on input like an escaped quote and loads its whole library. One
 * pass, no backtracking: a regex here took seconds on 64k spaces. Null past `maxChars` (MAX_FILTER_CHARS).
 */
export function parseFilter(filter: string, maxChars = MAX_FILTER_CHARS): Comparison | null {
  const text = String(filter);
  if (text.length > maxChars) return null;
  const n = text.length;
  let i = 0;
  while (i < n && isSpace(text[i])) i++;
  if (text[i] === '(') i++;
  while (i < n && isSpace(text[i])) i++;
  const attrStart = i;
  while (i < n && !isSpace(text[i]) && text[i] !== '(' && text[i] !== ')' && text[i] !== '"') i++;
  if (i === attrStart) return null;
  const attribute = text.slice(attrStart, i);
  if (!isSpace(text[i])) return null;
  while (i < n && isSpace(text[i])) i++;
  if (!isLetter(text[i]) || !isLetter(text[i + 1])) return null;
  const op = text.slice(i, i + 2).toLowerCase();
  i += 2;
  if (i < n && !isSpace(text[i]) && text[i] !== '"') return null;
  while (i < n && isSpace(text[i])) i++;
  if (op === 'pr') return { attribute, op, value: null };
  if (text[i] === '"') {
    // runs between escapes are sliced whole: a character at a time allocates per character
    const out: string[] = [];
    i++;
    let run = i;
    while (i < n) {
      const c = text[i];
      if (c === '"') break;
      if (c !== '\\' || i + 1 >= n) {
        i++;
        continue;
      }
      if (i > run) out.push(text.slice(run, i));
      const e = text[i + 1];
      const hex = text.slice(i + 2, i + 6);
      if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(hex)) {
        out.push(String.fromCharCode(Number.parseInt(hex, 16)));
        i += 6;
      } else {
        out.push(e === 'n' ? '\n' : e === 't' ? '\t' : e === 'r' ? '\r' : e);
        i += 2;
      }
      run = i;
    }
    if (i > run) out.push(text.slice(run, Math.min(i, n)));
    return { attribute, op, value: out.join('') };
  }
  const valueStart = i;
  while (i < n && !isSpace(text[i]) && text[i] !== '(' && text[i] !== ')') i++;
  return { attribute, op, value: i > valueStart ? text.slice(valueStart, i) : null };
}
