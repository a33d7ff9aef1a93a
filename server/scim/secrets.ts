// Where an exchange carries secrets, besides the attributes redact.ts knows: the Authorization header, the
// query string, a filter on a secret attribute, a form body. Pure; every scan is linear in its input.
import { MAX_NAME_CHARS, type Redactor } from './redact.js';
import { MIN_SECRET } from './scrub.js';

/** Query and form parameters that hold a credential whatever the capture mode (OAuth, API keys, signatures). */
const CREDENTIAL_PARAMS = new Set([
  'access_token',
  'accesstoken',
  'id_token',
  'refresh_token',
  'token',
  'api_key',
  'apikey',
  'api-key',
  'key',
  'secret',
  'client_secret',
  'password',
  'passwd',
  'pwd',
  'auth',
  'authorization',
  'sig',
  'signature',
  'code',
]);

/**
 * The secrets an Authorization header carries: a bearer token; for Basic, `user:password`, the password and the
 * encoded value; for any other scheme, the credential after the scheme name.
 */
export function authorizationSecrets(header: string | undefined | null): string[] {
  if (typeof header !== 'string') return [];
  const value = header.trim();
  const space = value.search(/\s/);
  const scheme = space === -1 ? '' : value.slice(0, space).toLowerCase();
  const credential = space === -1 ? value : value.slice(space).trim();
  const out = [credential];
  if (scheme === 'basic') {
    const decoded = Buffer.from(credential, 'base64').toString('utf8');
    out.push(decoded);
    const colon = decoded.indexOf(':');
    if (colon >= 0) out.push(decoded.slice(colon + 1));
  }
  if (scheme !== 'bearer' && scheme !== 'basic') out.push(value);
  return usable(out);
}

/** The secrets a query string carries: credential parameters, redacted attributes, and filters on them. */
export function querySecrets(query: string, isRedacted: Redactor | null): string[] {
  const out: string[] = [];
  for (const [name, values] of pairs(String(query ?? '').replace(/^\?/, ''))) {
    if (CREDENTIAL_PARAMS.has(name) || (isRedacted?.(name) ?? false)) out.push(...values);
    else if (isRedacted && name === 'filter')
      for (const v of values) out.push(...filterSecrets(v, isRedacted));
  }
  return usable(out);
}

/**
 * Whether a filter could compare a redacted attribute: it mentions one's name, or it is long enough to hold a name
 * too long to tell (counted as redacted, MAX_NAME_CHARS). Entra's lookup filters (`userName eq "…"`) mention none,
 * and skip the tokenising (issue 12: every lookup paid for it on the log writer).
 */
function mayNameRedacted(filter: string, isRedacted: Redactor): boolean {
  return !isRedacted.mentionedIn || filter.length > MAX_NAME_CHARS || isRedacted.mentionedIn(filter);
}

/** The secrets an `application/x-www-form-urlencoded` body carries (same rules as the query string). */
export function formSecrets(text: string, isRedacted: Redactor | null): string[] {
  return querySecrets(text, isRedacted);
}

/** Each `name=value` of a query or form, name decoded and lower-cased; the value as decoded both ways (`+`). */
function pairs(q: string): Array<[string, string[]]> {
  const out: Array<[string, string[]]> = [];
  if (q === '') return out;
  for (const part of q.split('&')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = decodePart(part.slice(0, eq).replace(/\+/g, ' ')).trim().toLowerCase();
    const raw = part.slice(eq + 1);
    out.push([name, [decodePart(raw.replace(/\+/g, ' ')), decodePart(raw), raw]]);
  }
  return out;
}

function decodePart(s: string): string {
  if (!s.includes('%')) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

interface FilterTok {
  kind: 'word' | 'string';
  text: string;
}

/**
 * The compared values of every comparison on a redacted attribute in a SCIM filter, anywhere in it:
 * `userName eq "a" and password eq "b"`, `emails[password eq "c"]`. A hand scanner, one pass, no regex.
 */
export function filterSecrets(filter: string, isRedacted: Redactor): string[] {
  const text = String(filter ?? '');
  if (!mayNameRedacted(text, isRedacted)) return [];
  const toks: FilterTok[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (
      c === ' ' ||
      c === '\t' ||
      c === '\n' ||
      c === '\r' ||
      c === '(' ||
      c === ')' ||
      c === '[' ||
      c === ']'
    ) {
      i++;
    } else if (c === '"') {
      let j = i + 1;
      let s = '';
      while (j < text.length && text[j] !== '"') {
        if (text[j] === '\\' && j + 1 < text.length) {
          s += text[j + 1];
          j += 2;
        } else s += text[j++];
      }
      toks.push({ kind: 'string', text: s });
      // the raw form too: the app may echo the escapes as they came
      if (s !== text.slice(i + 1, j)) toks.push({ kind: 'string', text: text.slice(i + 1, j) });
      i = j + 1;
    } else {
      let j = i;
      while (j < text.length && !' \t\n\r()[]"'.includes(text[j])) j++;
      toks.push({ kind: 'word', text: text.slice(i, j) });
      i = j;
    }
  }
  const out: string[] = [];
  for (let t = 0; t + 2 < toks.length; t++) {
    const [attr, op, value] = [toks[t], toks[t + 1], toks[t + 2]];
    if (attr.kind === 'word' && op.kind === 'word' && op.text.length === 2 && isRedacted(attr.text)) {
      out.push(value.text);
      if (toks[t + 3]?.kind === 'string' && value.kind === 'string') out.push(toks[t + 3].text);
    }
  }
  return usable(out);
}

function usable(values: string[]): string[] {
  return [...new Set(values.filter((v) => typeof v === 'string' && v.length >= MIN_SECRET))];
}
