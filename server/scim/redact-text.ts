// Redaction of captured body text (ARCHITECTURE §7). Whole JSON is parsed and its values redacted (redact.ts);
// truncated or broken JSON goes through a tolerant scanner that reads one token at a time and never parses.
// Pure, never throws on any text.
import {
  jsonDeeperThan,
  MAX_JSON_DEPTH,
  MAX_NAME_CHARS,
  REDACTED,
  type Redactor,
  redactJson,
} from './redact.js';

/**
 * Redacted text of a captured body: JSON is re-serialized only when something was hidden. `known`: the body's
 * JSON as the caller already parsed it from this very text (body.ts readBody), so it is not parsed twice.
 */
export function redactBodyText(text: string, isRedacted: Redactor, known?: { json: unknown }): string {
  const trimmed = text.replace(/^\uFEFF/, '').trim();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    let parsed: unknown = known?.json;
    let ok = known !== undefined;
    // too deep to parse cheaply: the tolerant scanner hides everything past MAX_JSON_DEPTH
    if (!ok && jsonDeeperThan(trimmed, MAX_JSON_DEPTH)) return scrubText(text, isRedacted);
    if (!ok) {
      try {
        parsed = JSON.parse(trimmed);
        ok = true;
      } catch {
        // truncated or broken JSON: fall through to the tolerant scanner
      }
    }
    if (ok) {
      // Hot path: most bodies name no secret attribute, so there is nothing to walk. JSON escapes (\u0070)
      // could spell a name without its letters, so such bodies are always walked.
      if (isRedacted.mentionedIn && !trimmed.includes('\\u') && !isRedacted.mentionedIn(trimmed)) return text;
      try {
        const r = redactJson(parsed, isRedacted);
        return r.changed ? JSON.stringify(r.value) : text;
      } catch {
        return DROPPED;
      }
    }
    return scrubText(text, isRedacted);
  }
  // Not JSON (a login page, a form, plain text): we cannot tell where a secret ends, so drop it if one is named.
  if (mentionsSecret(text, isRedacted)) return DROPPED;
  return scrubText(text, isRedacted);
}

const DROPPED = '[body dropped: not JSON and names a redacted attribute]';

function mentionsSecret(text: string, isRedacted: Redactor): boolean {
  // a word has no brackets nor separators: one longer than the cap names nothing (and would count as redacted)
  for (const word of text.split(/[^A-Za-z0-9_]+/)) {
    if (word !== '' && word.length <= MAX_NAME_CHARS && isRedacted(word)) return true;
  }
  return false;
}

type TokKind = 's' | 'b' | '{' | '}' | '[' | ']' | ':' | ',';
interface Tok {
  kind: TokKind;
  start: number;
  end: number;
  /** decoded string (s) or raw text (b) */
  text: string;
  closed: boolean;
}

function isSpace(c: string): boolean {
  return c === ' ' || c === '\n' || c === '\r' || c === '\t' || c === '\f' || c === '\v' || c === '\uFEFF';
}

const PUNCT = new Set(['{', '}', '[', ']', ':', ',']);

/**
 * The next token of `text` from `from`, or null at the end. Tokens are read one at a time, not collected: a body
 * of 64k `[` would otherwise hold 64k token objects at once, and the garbage collector's work grew faster than
 * the text.
 */
function nextToken(text: string, from: number): Tok | null {
  const n = text.length;
  let i = from;
  while (i < n && isSpace(text[i])) i++;
  if (i >= n) return null;
  const c = text[i];
  if (PUNCT.has(c)) return { kind: c as TokKind, start: i, end: i + 1, text: c, closed: true };
  if (c === '"') {
    let j = i + 1;
    let closed = false;
    while (j < n) {
      if (text[j] === '\\') j += 2;
      else if (text[j] === '"') {
        closed = true;
        j++;
        break;
      } else j++;
    }
    const end = Math.min(j, n);
    let decoded = text.slice(i + 1, closed ? end - 1 : end);
    // Without a backslash a JSON string is its own text (or, holding a control character, invalid: kept raw
    // either way), so only an escaped one is parsed.
    if (closed && decoded.includes('\\')) {
      try {
        decoded = JSON.parse(text.slice(i, end)) as string;
      } catch {
        // keep the raw inner text
      }
    }
    return { kind: 's', start: i, end, text: decoded, closed };
  }
  let j = i;
  while (j < n && !isSpace(text[j]) && !PUNCT.has(text[j]) && text[j] !== '"') j++;
  return { kind: 'b', start: i, end: j, text: text.slice(i, j), closed: true };
}

interface Frame {
  kind: 'obj' | 'arr' | 'root';
  start: number;
  expect: 'key' | 'colon' | 'value' | 'comma';
  key: string | null;
  /** the whole container is the value of a redacted key */
  redactWhole: boolean;
  /** the frame (a PATCH op) whose `value` this container is */
  valueOf: Frame | null;
  /** `path` seen as a complete string, else null */
  path: string | null;
  valueRange: [number, number] | null;
  lastRedacted: boolean;
}

function newFrame(kind: Frame['kind'], start: number): Frame {
  return {
    kind,
    start,
    expect: 'key',
    key: null,
    redactWhole: false,
    valueOf: null,
    path: null,
    valueRange: null,
    lastRedacted: false,
  };
}

/**
 * Hides secrets in text that may be truncated or broken JSON, without parsing it: a tolerant token scan
 * that redacts values of redacted keys (an unterminated value up to the end), and PATCH `value`s whose
 * `path` is redacted, or unknown because the body was cut before the path arrived.
 */
export function scrubText(text: string, isRedacted: Redactor): string {
  const ranges = redactedRanges(text, isRedacted);
  if (ranges.length === 0) return text;
  ranges.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
  let out = '';
  let pos = 0;
  for (const [start, end] of ranges) {
    if (end <= pos) continue;
    out += text.slice(pos, Math.max(pos, start));
    if (start >= pos) out += `"${REDACTED}"`;
    pos = end;
  }
  return out + text.slice(pos);
}

/**
 * The secret values a request body gives its redacted attributes, as the app may echo them: string values
 * decoded, numbers and other bare values as written (`12345678901234567890` stays whole). Works on truncated
 * and broken JSON too (an unterminated value counts up to the end). Keys inside a redacted object are not values.
 * A second pass of the same one-token-at-a-time reader over the ranges found: linear, no token array.
 */
export function secretTexts(text: string, isRedacted: Redactor): string[] {
  const ranges = redactedRanges(text, isRedacted);
  if (ranges.length === 0) return [];
  ranges.sort((a, b) => a[0] - b[0]);
  const found = new Set<string>();
  let r = 0;
  let ahead = nextToken(text, 0);
  while (ahead !== null && r < ranges.length) {
    const tok = ahead;
    ahead = nextToken(text, tok.end);
    while (r < ranges.length && ranges[r][1] <= tok.start) r++;
    if (r === ranges.length) break;
    if (tok.start < ranges[r][0]) continue;
    if (tok.kind !== 's' && tok.kind !== 'b') continue;
    if (ahead?.kind === ':') continue;
    if (tok.kind === 'b' && (tok.text === 'true' || tok.text === 'false' || tok.text === 'null')) continue;
    found.add(tok.text);
  }
  return [...found];
}

/** Where the redacted values are in `text`: [start, end) ranges, unsorted, possibly overlapping. */
function redactedRanges(text: string, isRedacted: Redactor): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  const root = newFrame('root', 0);
  const stack: Frame[] = [root];

  const finishObj = (f: Frame, closed: boolean) => {
    if (!f.valueRange) return;
    if (f.path !== null ? isRedacted(f.path) : !closed) ranges.push(f.valueRange);
  };
  const onScalarValue = (top: Frame, tok: Tok) => {
    const key = top.key ?? '';
    if (isRedacted(key)) {
      ranges.push([tok.start, tok.end]);
      top.lastRedacted = true;
    }
    const lower = key.toLowerCase();
    if (lower === 'path' && tok.kind === 's' && tok.closed) top.path = tok.text;
    if (lower === 'value') top.valueRange = [tok.start, tok.end];
    top.expect = 'comma';
  };

  let ahead = nextToken(text, 0);
  scan: while (ahead !== null) {
    const tok = ahead;
    ahead = nextToken(text, tok.end);
    const top = stack[stack.length - 1];
    const inObj = top.kind !== 'arr';
    const keyFollows = ahead?.kind === ':';
    switch (tok.kind) {
      case 's':
      case 'b':
        if (!inObj) break;
        if (top.expect === 'value' || (top.expect === 'colon' && !keyFollows)) {
          // a missing colon still makes this the key's value: safer to over-redact
          onScalarValue(top, tok);
        } else {
          // junk right after a redacted value may be the rest of it
          if (top.expect === 'comma' && top.lastRedacted) ranges.push([tok.start, tok.end]);
          top.key = tok.text;
          top.expect = 'colon';
        }
        break;
      case ':':
        if (inObj && top.expect === 'colon') top.expect = 'value';
        break;
      case ',':
        if (inObj) {
          top.expect = 'key';
          top.key = null;
          top.lastRedacted = false;
        }
        break;
      case '{':
      case '[': {
        // Deeper than any SCIM body: hide everything from here rather than track thousands of levels.
        if (stack.length > MAX_JSON_DEPTH) {
          ranges.push([tok.start, text.length]);
          break scan;
        }
        const f = newFrame(tok.kind === '{' ? 'obj' : 'arr', tok.start);
        if (inObj && (top.expect === 'value' || top.expect === 'colon')) {
          const key = top.key ?? '';
          f.redactWhole = isRedacted(key);
          if (key.toLowerCase() === 'value') f.valueOf = top;
          top.expect = 'comma';
        }
        stack.push(f);
        break;
      }
      case '}':
      case ']': {
        if (stack.length === 1) break;
        const f = stack.pop()!;
        if (f.redactWhole) ranges.push([f.start, tok.end]);
        if (f.valueOf) f.valueOf.valueRange = [f.start, tok.end];
        if (f.kind === 'obj') finishObj(f, true);
        break;
      }
    }
  }
  // Whatever is still open was cut off by truncation: close it at the end of the text, innermost first.
  while (stack.length > 1) {
    const f = stack.pop()!;
    if (f.redactWhole) ranges.push([f.start, text.length]);
    if (f.valueOf) f.valueOf.valueRange = [f.start, text.length];
    if (f.kind === 'obj') finishObj(f, false);
  }
  finishObj(root, true);

  return ranges;
}
