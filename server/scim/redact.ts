// Redaction of secret attributes (ARCHITECTURE §7): which names are secret, and their values in parsed JSON.
// Captured body text, whole or truncated, is redacted in redact-text.ts. Pure, never throws on any text.

export const REDACTED = '[redacted]';

/** Says whether an attribute name or PATCH path names a secret attribute. */
export type Redactor = ((name: string) => boolean) & {
  /** cheap pre-check: could this text name a redacted attribute at all? */
  mentionedIn?: (text: string) => boolean;
};

// Past this depth we stop looking and hide the subtree: a hostile body must not overflow the stack.
const MAX_DEPTH = 64;
/**
 * JSON nested deeper than this is not handed to JSON.parse (classify's bodies, redactBodyText); the tolerant
 * scanner (redact-text.ts) hides whatever lies deeper.
 */
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

const TOO_MANY_SECRETS = `[dropped: the request carried more than ${MAX_SECRET_VALUES} secret values]`;

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
