// Redaction of secret attributes (ARCHITECTURE §7). Pure, never throws on any text.

export const REDACTED = '[redacted]';

/** Says whether an attribute name or PATCH path names a secret attribute. */
export type Redactor = ((name: string) => boolean) & {
  /** cheap pre-check: could this text name a redacted attribute at all? */
  mentionedIn?: (text: string) => boolean;
};

// Past this depth we stop looking and hide the subtree: a hostile body must not overflow the stack.
const MAX_DEPTH = 64;
/** JSON nested deeper than this is not handed to JSON.parse (classify's bodies, redactBodyText). */
export const MAX_JSON_DEPTH = MAX_DEPTH;

/**
 * Whether JSON text opens more than `max` arrays or objects at once (strings skipped). One pass that stops at the
 * first level too deep; V8's JSON.parse slows down faster than the text grows on such input.
 */
export function jsonDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}
/**
 * Names longer than this are not parsed: they count as redacted (we cannot tell, so the value is hidden) and
 * are not memoized (4,096 remembered 64 KiB names would be 256 MiB). Equals classify's MAX_ATTRIBUTE_PATH_CHARS.
 */
export const MAX_NAME_CHARS = 1_024;
/** More secret values than this in one request: the text they could be echoed in is dropped, not scanned. */
export const MAX_SECRET_VALUES = 64;

/**
 * `name` without its bracketed value filters (`emails[type eq "x"].value` → `emails.value`): what
 * `replace(/\[[^\]]*\]/g, '')` did, in one pass. That regex rescanned the rest of the name from every `[`
 * with no `]` after it: 65,000 `[` took seconds.
 */
export function stripBrackets(name: string): string {
  if (!name.includes('[')) return name;
  let out = '';
  let i = 0;
  for (;;) {
    const open = name.indexOf('[', i);
    const close = open === -1 ? -1 : name.indexOf(']', open + 1);
    // an unclosed `[` stays, and so does everything after it: no `]` follows to close any later one either
    if (close === -1) return out + name.slice(i);
    out += name.slice(i, open);
    i = close + 1;
  }
}

/**
 * Matches case-insensitively, on the whole name or on any segment of it, so `password`,
 * `urn:...:User:password`, `name.password` and `Password` all match. Value filters in brackets are
 * ignored (`emails[type eq "password"]` is not a secret).
 */
export function createRedactor(names: readonly string[] | undefined): Redactor {
  const key = (names ?? ['password']).map(String).join('\u0000');
  const cached = redactors.get(key);
  if (cached) return cached;
  const set = new Set<string>();
  for (const n of names ?? ['password']) {
    const v = typeof n === 'string' ? n.trim().toLowerCase() : '';
    if (v !== '') set.add(v);
  }
  // Entra repeats the same few dozen attribute names on every call: remember the answers (bounded).
  const memo = new Map<string, boolean>();
  const decide = (name: string) => {
    const plain = stripBrackets(name).trim().toLowerCase();
    if (set.has(plain)) return true;
    for (const seg of plain.split(/[.:/]/)) if (set.has(seg.trim())) return true;
    return false;
  };
  const redactor: Redactor =
    set.size === 0
      ? () => false
      : (name) => {
          if (typeof name !== 'string' || name === '') return false;
          if (name.length > MAX_NAME_CHARS) return true;
          let answer = memo.get(name);
          if (answer === undefined) {
            answer = decide(name);
            if (memo.size >= 4_096) memo.clear();
            memo.set(name, answer);
          }
          return answer;
        };
  const lowered = [...set];
  redactor.mentionedIn = (text) => {
    const lower = text.toLowerCase();
    return lowered.some((n) => lower.includes(n));
  };
  if (redactors.size >= 16) redactors.clear();
  redactors.set(key, redactor);
  return redactor;
}

const redactors = new Map<string, Redactor>();

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function keyOf(obj: Record<string, unknown>, lower: string): string | undefined {
  for (const k of Object.keys(obj)) if (k.toLowerCase() === lower) return k;
  return undefined;
}

/**
 * Returns a copy of a parsed JSON value with every redacted key's value replaced, and the `value` of any
 * object whose `path` names a redacted attribute (a PATCH operation) replaced too.
 */
export function redactJson(value: unknown, isRedacted: Redactor): { value: unknown; changed: boolean } {
  let changed = false;
  const walk = (v: unknown, depth: number): unknown => {
    if (typeof v !== 'object' || v === null) return v;
    if (depth > MAX_DEPTH) {
      changed = true;
      return REDACTED;
    }
    if (Array.isArray(v)) return v.map((item) => walk(item, depth + 1));
    if (!isPlainObject(v)) return v;
    const pathKey = keyOf(v, 'path');
    const valueKey = keyOf(v, 'value');
    const pathVal = pathKey === undefined ? undefined : v[pathKey];
    const secretValue = valueKey !== undefined && typeof pathVal === 'string' && isRedacted(pathVal);
    // fromEntries defines own properties, so a `__proto__` key stays data instead of setting the prototype
    return Object.fromEntries(
      Object.entries(v).map(([k, item]) => {
        if (isRedacted(k) || (secretValue && k === valueKey)) {
          changed = true;
          return [k, REDACTED];
        }
        return [k, walk(item, depth + 1)];
      }),
    );
  };
  const out = walk(value, 0);
  return { value: changed ? out : value, changed };
}

/**
 * The string values a parsed request body gives its redacted attributes (and PATCH values whose path is one),
 * so that an app echoing them in free text (an error detail, an HTML page) can be scrubbed too. Values shorter
 * than 4 characters are skipped: hiding every "abc" would hide more than it protects.
 */
export function secretValues(value: unknown, isRedacted: Redactor): string[] {
  const found = new Set<string>();
  const collect = (v: unknown, depth: number) => {
    if (depth > MAX_DEPTH) return;
    if (typeof v === 'string') {
      if (v.length >= 4) found.add(v);
    } else if (Array.isArray(v)) for (const item of v) collect(item, depth + 1);
    else if (isPlainObject(v)) for (const item of Object.values(v)) collect(item, depth + 1);
  };
  const walk = (v: unknown, depth: number) => {
    if (depth > MAX_DEPTH || typeof v !== 'object' || v === null) return;
    if (Array.isArray(v)) {
      for (const item of v) walk(item, depth + 1);
      return;
    }
    const pathKey = keyOf(v as Record<string, unknown>, 'path');
    const valueKey = keyOf(v as Record<string, unknown>, 'value');
    const pathVal = pathKey === undefined ? undefined : (v as Record<string, unknown>)[pathKey];
    const secretValue = valueKey !== undefined && typeof pathVal === 'string' && isRedacted(pathVal);
    for (const [k, item] of Object.entries(v)) {
      if (isRedacted(k) || (secretValue && k === valueKey)) collect(item, depth + 1);
      else walk(item, depth + 1);
    }
  };
  walk(value, 0);
  return [...found];
}

/** `text` with every occurrence of each value (as is, and as it reads inside a JSON string) replaced. */
export function scrubValues(text: string, values: readonly string[]): string {
  // Each value is a scan of the text: a request carrying thousands would make this quadratic. Entra sends one.
  if (values.length > MAX_SECRET_VALUES && text !== '') return TOO_MANY_SECRETS;
  let out = text;
  for (const v of values) {
    const escaped = JSON.stringify(v).slice(1, -1);
    for (const form of escaped === v ? [v] : [v, escaped]) {
      if (out.includes(form)) out = out.split(form).join(REDACTED);
    }
  }
  return out;
}

/** Redacted text of a captured body: JSON is re-serialized only when something was hidden. */
export function redactBodyText(text: string, isRedacted: Redactor): string {
  const trimmed = text.replace(/^\uFEFF/, '').trim();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    // too deep to parse cheaply: the tolerant scanner hides everything past MAX_DEPTH
    if (jsonDeeperThan(trimmed, MAX_JSON_DEPTH)) return scrubText(text, isRedacted);
    let parsed: unknown;
    let ok = false;
    try {
      parsed = JSON.parse(trimmed);
      ok = true;
    } catch {
      // truncated or broken JSON: fall through to the tolerant scanner
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
const TOO_MANY_SECRETS = `[dropped: the request carried more than ${MAX_SECRET_VALUES} secret values]`;

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
    if (closed) {
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
        if (stack.length > MAX_DEPTH) {
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
