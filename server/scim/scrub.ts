// Removes known secret values from recorded text, in the escaped forms apps really echo them in.
// Pure and linear: the escapes are undone into a few decoded views of the text (each keeping a map back to the
// original offsets), and every view is scanned once by one Aho-Corasick automaton over all the secrets' literal
// forms. No regular expression ever runs on the input.

export const REDACTED = '[redacted]';

/** Secrets shorter than this are not scrubbed: hiding every "abc" would hide more than it protects. */
export const MIN_SECRET = 4;
/** A secret is matched by its first this-many characters at most: the automaton stays small on hostile input. */
const MAX_SECRET = 1_024;
/** Base64 fragments shorter than this would match random text. */
const MIN_BASE64 = 8;
/** A truncated text that ends with this much of a secret's beginning has that tail hidden. */
const MIN_TAIL = 4;

export interface Scrubber {
  /** `text` with every form of every secret replaced; `truncated`: the text was cut, so a secret may be too */
  (text: string, truncated?: boolean): string;
  /** false when there is nothing to look for (the scrubber returns its input) */
  readonly active: boolean;
}

/**
 * The literal forms a secret is searched as: itself, and base64 of it at each of the three byte alignments it can
 * have inside a longer base64 text (a Basic header, a JWT, an SMTP AUTH PLAIN line), standard and url-safe.
 * JSON, HTML and URL escapes are not listed here: the views undo them.
 */
export function secretNeedles(secret: string): string[] {
  const s = secret.length > MAX_SECRET ? secret.slice(0, MAX_SECRET) : secret;
  if (s.length < MIN_SECRET) return [];
  const out = new Set<string>([s]);
  const bytes = Buffer.from(s, 'utf8');
  const padded = bytes.toString('base64');
  if (padded.length >= MIN_BASE64) {
    out.add(padded);
    out.add(toUrlSafe(padded));
  }
  for (let k = 0; k < 3; k++) {
    const enc = Buffer.concat([Buffer.alloc(k), bytes])
      .toString('base64')
      .replace(/=+$/, '');
    // only the characters made of the secret's bits alone: the ones around them depend on unknown bytes
    const inner = enc.slice(Math.ceil((8 * k) / 6), Math.floor((8 * (k + bytes.length)) / 6));
    if (inner.length >= MIN_BASE64) {
      out.add(inner);
      out.add(toUrlSafe(inner));
    }
  }
  return [...out];
}

function toUrlSafe(b64: string): string {
  return b64.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

// ---------------------------------------------------------------------------------------------------------
// Aho-Corasick over UTF-16 code units

class Automaton {
  private readonly next: Map<number, number>[] = [new Map()];
  private readonly fail: number[] = [0];
  private readonly depth: number[] = [0];
  /** length of the longest pattern that ends at this state (0: none) */
  private readonly out: number[] = [0];

  constructor(patterns: readonly string[]) {
    for (const p of patterns) {
      let s = 0;
      for (let i = 0; i < p.length; i++) {
        const c = p.charCodeAt(i);
        let t = this.next[s].get(c);
        if (t === undefined) {
          t = this.next.length;
          this.next.push(new Map());
          this.fail.push(0);
          this.depth.push(this.depth[s] + 1);
          this.out.push(0);
          this.next[s].set(c, t);
        }
        s = t;
      }
      this.out[s] = p.length;
    }
    // breadth first: a state's failure link is computed before its children's
    const queue: number[] = [...this.next[0].values()];
    for (let h = 0; h < queue.length; h++) {
      const s = queue[h];
      for (const [c, t] of this.next[s]) {
        let f = this.fail[s];
        while (f !== 0 && !this.next[f].has(c)) f = this.fail[f];
        const g = this.next[f].get(c);
        this.fail[t] = g !== undefined && g !== t ? g : 0;
        if (this.out[t] === 0) this.out[t] = this.out[this.fail[t]];
        queue.push(t);
      }
    }
  }

  /**
   * Calls `hit(start, end)` for the longest pattern ending at each position that ends one (any shorter one
   * ending there lies inside it). Returns how many trailing characters begin a pattern.
   */
  scan(text: string, hit: (start: number, end: number) => void): number {
    let s = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      let t = this.next[s].get(c);
      while (t === undefined && s !== 0) {
        s = this.fail[s];
        t = this.next[s].get(c);
      }
      s = t ?? 0;
      const len = this.out[s];
      if (len > 0) hit(i + 1 - len, i + 1);
    }
    return this.depth[s];
  }
}

// ---------------------------------------------------------------------------------------------------------
// decoded views

/** A decoded text and, per character, the [from, to) span of the original text it came from. */
interface View {
  text: string;
  from: Int32Array;
  to: Int32Array;
}

interface Decoding {
  json?: boolean;
  html?: boolean;
  percent?: boolean;
  plusSpace?: boolean;
}

// HTML5 names for ASCII punctuation (and a few more) that apps' escapers use.
const ENTITIES = new Map<string, string>(
  Object.entries({
    quot: '"',
    QUOT: '"',
    amp: '&',
    AMP: '&',
    apos: "'",
    lt: '<',
    LT: '<',
    gt: '>',
    GT: '>',
    excl: '!',
    num: '#',
    dollar: '$',
    percnt: '%',
    lpar: '(',
    rpar: ')',
    ast: '*',
    midast: '*',
    plus: '+',
    comma: ',',
    period: '.',
    sol: '/',
    colon: ':',
    semi: ';',
    equals: '=',
    quest: '?',
    commat: '@',
    lsqb: '[',
    lbrack: '[',
    bsol: '\\',
    rsqb: ']',
    rbrack: ']',
    Hat: '^',
    lowbar: '_',
    UnderBar: '_',
    grave: '`',
    DiacriticalGrave: '`',
    lcub: '{',
    lbrace: '{',
    verbar: '|',
    vert: '|',
    VerticalLine: '|',
    rcub: '}',
    rbrace: '}',
    nbsp: '\u00a0',
    NonBreakingSpace: '\u00a0',
    Tab: '\t',
    NewLine: '\n',
  }),
);
// HTML parsers accept these few without their semicolon
const LEGACY = new Set(['quot', 'QUOT', 'amp', 'AMP', 'lt', 'LT', 'gt', 'GT', 'nbsp']);
const JSON_SIMPLE = new Map([
  ['n', '\n'],
  ['t', '\t'],
  ['r', '\r'],
  ['b', '\b'],
  ['f', '\f'],
]);

function hexAt(text: string, at: number, n: number): number {
  if (at + n > text.length) return -1;
  let v = 0;
  for (let i = at; i < at + n; i++) {
    const d = Number.parseInt(text[i], 16);
    if (Number.isNaN(d)) return -1;
    v = v * 16 + d;
  }
  return v;
}

function isAlnum(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/** One pass that undoes the chosen escapes; every escape looks ahead a bounded number of characters. */
function decode(text: string, d: Decoding): View {
  const n = text.length;
  const out: string[] = [];
  const from = new Int32Array(n);
  const to = new Int32Array(n);
  let k = 0;
  const emit = (s: string, a: number, b: number) => {
    for (let j = 0; j < s.length; j++) {
      out.push(s[j]);
      from[k] = a;
      to[k] = b;
      k++;
    }
  };
  let i = 0;
  while (i < n) {
    const c = text[i];
    if (d.json && c === '\\' && i + 1 < n) {
      const e = text[i + 1];
      if (e === 'u') {
        const v = hexAt(text, i + 2, 4);
        if (v >= 0) {
          emit(String.fromCharCode(v), i, i + 6);
          i += 6;
          continue;
        }
      } else if (e === 'x') {
        const v = hexAt(text, i + 2, 2);
        if (v >= 0) {
          emit(String.fromCharCode(v), i, i + 4);
          i += 4;
          continue;
        }
      } else {
        emit(JSON_SIMPLE.get(e) ?? e, i, i + 2);
        i += 2;
        continue;
      }
    }
    if (d.html && c === '&') {
      const decoded = entityAt(text, i);
      if (decoded) {
        emit(decoded.value, i, decoded.end);
        i = decoded.end;
        continue;
      }
    }
    if (d.percent && c === '%') {
      const decoded = percentAt(text, i);
      if (decoded) {
        emit(decoded.value, i, decoded.end);
        i = decoded.end;
        continue;
      }
    }
    emit(d.plusSpace && c === '+' ? ' ' : c, i, i + 1);
    i++;
  }
  return { text: out.join(''), from: from.subarray(0, k), to: to.subarray(0, k) };
}

function entityAt(text: string, at: number): { value: string; end: number } | null {
  if (text[at + 1] === '#') {
    const hex = text[at + 2] === 'x' || text[at + 2] === 'X';
    let j = at + (hex ? 3 : 2);
    let v = 0;
    const start = j;
    while (j < text.length && j - start < 8) {
      const digit = Number.parseInt(text[j], hex ? 16 : 10);
      if (Number.isNaN(digit)) break;
      v = v * (hex ? 16 : 10) + digit;
      j++;
    }
    if (j === start || v > 0x10ffff) return null;
    if (text[j] === ';') j++;
    return { value: String.fromCodePoint(v), end: j };
  }
  let j = at + 1;
  while (j < text.length && j - at <= 32 && isAlnum(text.charCodeAt(j))) j++;
  const name = text.slice(at + 1, j);
  const value = ENTITIES.get(name);
  if (value !== undefined && text[j] === ';') return { value, end: j + 1 };
  // `&quotd` reads as `"d` in HTML: a legacy name needs no semicolon and may run into the next letters
  for (const legacy of LEGACY) {
    if (name.startsWith(legacy))
      return { value: ENTITIES.get(legacy) as string, end: at + 1 + legacy.length };
  }
  return null;
}

/** `%XX`, or a run of them that spells one UTF-8 character. */
function percentAt(text: string, at: number): { value: string; end: number } | null {
  const b0 = hexAt(text, at + 1, 2);
  if (b0 < 0) return null;
  if (b0 < 0x80) return { value: String.fromCharCode(b0), end: at + 3 };
  const extra = b0 >= 0xf0 && b0 < 0xf8 ? 3 : b0 >= 0xe0 ? 2 : b0 >= 0xc0 ? 1 : -1;
  if (extra < 0) return null;
  let cp = b0 & (0x3f >> extra);
  let j = at + 3;
  for (let e = 0; e < extra; e++) {
    const b = text[j] === '%' ? hexAt(text, j + 1, 2) : -1;
    if (b < 0x80 || b >= 0xc0) return null;
    cp = (cp << 6) | (b & 0x3f);
    j += 3;
  }
  if (cp > 0x10ffff) return null;
  return { value: String.fromCodePoint(cp), end: j };
}

/** `inner` decoded from `outer.text`, mapped back to the text `outer` came from. */
function compose(outer: View, inner: View): View {
  const from = new Int32Array(inner.text.length);
  const to = new Int32Array(inner.text.length);
  for (let i = 0; i < inner.text.length; i++) {
    from[i] = outer.from[inner.from[i]];
    to[i] = outer.to[inner.to[i] - 1];
  }
  return { text: inner.text, from, to };
}

const ALL: Decoding = { json: true, html: true, percent: true };

/** The raw text's decoded views that differ from it: each escape family alone, all of them, and twice. */
function viewsOf(text: string): View[] {
  const json = text.includes('\\');
  const html = text.includes('&');
  const percent = text.includes('%');
  const plus = text.includes('+');
  const views: View[] = [];
  if (json) views.push(decode(text, { json: true }));
  if (html) views.push(decode(text, { html: true }));
  if (percent) views.push(decode(text, { percent: true }));
  if (percent || plus) views.push(decode(text, { percent: true, plusSpace: true }));
  const families = Number(json) + Number(html) + Number(percent);
  // one escape inside another (`%5Cu002B`, `&amp;#43;`, a JSON-escaped HTML page)
  if (families >= 1) {
    const once = decode(text, ALL);
    if (families >= 2) views.push(once);
    if (once.text.includes('\\') || once.text.includes('&') || once.text.includes('%')) {
      views.push(compose(once, decode(once.text, ALL)));
      views.push(compose(once, decode(once.text, { ...ALL, plusSpace: true })));
    }
  }
  return views;
}

// ---------------------------------------------------------------------------------------------------------

const cache = new Map<string, Scrubber>();
const inactive: Scrubber = Object.assign((text: string) => text, { active: false });

/**
 * A scrubber for a set of secrets, built once per set (the same token arrives on every call, so the last few
 * sets are remembered). Cost per text: a few decoded copies when it holds escapes, one scan of each.
 */
export function createScrubber(secrets: Iterable<string>, marker = REDACTED): Scrubber {
  const list = [...secrets].filter((s) => typeof s === 'string' && s.length >= MIN_SECRET);
  if (list.length === 0) return inactive;
  const key = `${marker}\u0000${list.join('\u0000')}`;
  const cached = cache.get(key);
  if (cached) return cached;
  const needles = new Set<string>();
  for (const s of list) for (const n of secretNeedles(s)) needles.add(n);
  const scrubber = build([...needles], marker);
  if (cache.size >= 32) cache.clear();
  cache.set(key, scrubber);
  return scrubber;
}

function build(needles: string[], marker: string): Scrubber {
  if (needles.length === 0) return Object.assign((text: string) => text, { active: false });
  const automaton = new Automaton(needles);
  const scrub = (text: string, truncated = false): string => {
    if (typeof text !== 'string' || text.length < MIN_SECRET) return text;
    const ranges: number[] = [];
    const tailFrom = (view: View | null, t: string, tail: number) => {
      if (!truncated || tail < MIN_TAIL) return;
      ranges.push(view ? view.from[t.length - tail] : t.length - tail, text.length);
    };
    const tail = automaton.scan(text, (a, b) => ranges.push(a, b));
    tailFrom(null, text, tail);
    for (const view of viewsOf(text)) {
      if (view.text === text) continue;
      const t = automaton.scan(view.text, (a, b) => ranges.push(view.from[a], view.to[b - 1]));
      tailFrom(view, view.text, t);
    }
    if (ranges.length === 0) return text;
    return replaceRanges(text, ranges, marker);
  };
  return Object.assign(scrub, { active: true });
}

/** `ranges` as flat [start, end, start, end ...] pairs, overlapping or not, each replaced once by the marker. */
function replaceRanges(text: string, flat: number[], marker: string): string {
  const pairs: Array<[number, number]> = [];
  for (let i = 0; i < flat.length; i += 2) pairs.push([flat[i], flat[i + 1]]);
  pairs.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
  let out = '';
  let pos = 0;
  let openEnd = -1;
  for (const [start, end] of pairs) {
    if (start < openEnd) {
      // overlaps the range being replaced: extend it
      if (end > openEnd) openEnd = end;
      continue;
    }
    if (openEnd >= 0) pos = openEnd;
    out += text.slice(pos, start) + marker;
    openEnd = end;
  }
  return out + text.slice(Math.max(pos, openEnd));
}
