// Decoded views of a text for the scrubber: each undoes one or more escape families (JSON, HTML, percent) in one
// pass and keeps, per character, the span of the original text it came from, so a match in a view maps back.

/** Per character of a decoded text, the [from, to) span of the original text it came from. */
export interface Spans {
  from: Int32Array;
  to: Int32Array;
}

/**
 * A decoded text, and its spans when asked. They are worked out on first use, by decoding again: the scrubber
 * needs them only where a secret matched, which is almost never, and two typed arrays per view made the spans
 * most of the cost of scrubbing an Entra lookup's query (issue 12).
 */
export interface View {
  text: string;
  spans(): Spans;
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

/**
 * One pass that undoes the chosen escapes; every escape looks ahead a bounded number of characters. The plain
 * characters between escapes (nearly all of a text) are copied as one slice per run: a string per character
 * made this the most expensive part of classifying an exchange whose token the scrubber looks for. With
 * `withSpans` it also records each character's span; the text is the same either way (one walk does both).
 */
function decode(text: string, d: Decoding, withSpans: boolean): { text: string; spans: Spans | null } {
  const n = text.length;
  const out: string[] = [];
  const from = withSpans ? new Int32Array(n) : null;
  const to = withSpans ? new Int32Array(n) : null;
  let k = 0;
  const emit = (s: string, a: number, b: number) => {
    out.push(s);
    if (!from || !to) return;
    for (let j = 0; j < s.length; j++) {
      from[k] = a;
      to[k] = b;
      k++;
    }
  };
  const opens = (c: number) =>
    (c === 92 && d.json) || (c === 38 && d.html) || (c === 37 && d.percent) || (c === 43 && d.plusSpace);
  let i = 0;
  while (i < n) {
    const run = i;
    while (i < n && !opens(text.charCodeAt(i))) i++;
    if (i > run) {
      out.push(text.slice(run, i));
      if (from && to) {
        for (let j = run; j < i; j++) {
          from[k] = j;
          to[k] = j + 1;
          k++;
        }
      }
    }
    if (i < n) i = decodeAt(text, i, d, emit);
  }
  const spans = from && to ? { from: from.subarray(0, k), to: to.subarray(0, k) } : null;
  return { text: out.join(''), spans };
}

/** `text` decoded by `d`, its spans worked out when first asked. */
function view(text: string, d: Decoding): View {
  let spans: Spans | null = null;
  return {
    text: decode(text, d, false).text,
    spans: () => {
      spans ??= decode(text, d, true).spans as Spans;
      return spans;
    },
  };
}

/** The escape (or the lone character) at `i`, emitted; returns where the text goes on. */
function decodeAt(
  text: string,
  i: number,
  d: Decoding,
  emit: (s: string, a: number, b: number) => void,
): number {
  const n = text.length;
  const c = text[i];
  if (d.json && c === '\\' && i + 1 < n) {
    const e = text[i + 1];
    if (e === 'u') {
      const v = hexAt(text, i + 2, 4);
      if (v >= 0) {
        emit(String.fromCharCode(v), i, i + 6);
        return i + 6;
      }
    } else if (e === 'x') {
      const v = hexAt(text, i + 2, 2);
      if (v >= 0) {
        emit(String.fromCharCode(v), i, i + 4);
        return i + 4;
      }
    } else {
      emit(JSON_SIMPLE.get(e) ?? e, i, i + 2);
      return i + 2;
    }
  }
  if (d.html && c === '&') {
    const decoded = entityAt(text, i);
    if (decoded) {
      emit(decoded.value, i, decoded.end);
      return decoded.end;
    }
  }
  if (d.percent && c === '%') {
    const decoded = percentAt(text, i);
    if (decoded) {
      emit(decoded.value, i, decoded.end);
      return decoded.end;
    }
  }
  emit(d.plusSpace && c === '+' ? ' ' : c, i, i + 1);
  return i + 1;
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

/** `inner` decoded from `outer.text`, mapped back to the text `outer` came from (when its spans are asked). */
function compose(outer: View, inner: View): View {
  let spans: Spans | null = null;
  return {
    text: inner.text,
    spans() {
      if (spans) return spans;
      const o = outer.spans();
      const i = inner.spans();
      const n = inner.text.length;
      spans = { from: new Int32Array(n), to: new Int32Array(n) };
      for (let c = 0; c < n; c++) {
        spans.from[c] = o.from[i.from[c]];
        spans.to[c] = o.to[i.to[c] - 1];
      }
      return spans;
    },
  };
}

const ALL: Decoding = { json: true, html: true, percent: true };

/** The raw text's decoded views that differ from it: each escape family alone, all of them, and twice. */
export function viewsOf(text: string): View[] {
  const json = text.includes('\\');
  const html = text.includes('&');
  const percent = text.includes('%');
  const plus = text.includes('+');
  const views: View[] = [];
  if (json) views.push(view(text, { json: true }));
  if (html) views.push(view(text, { html: true }));
  if (percent) views.push(view(text, { percent: true }));
  if (percent || plus) views.push(view(text, { percent: true, plusSpace: true }));
  const families = Number(json) + Number(html) + Number(percent);
  // one escape inside another (`%5Cu002B`, `&amp;#43;`, a JSON-escaped HTML page)
  if (families >= 1) {
    // With one family, decoding all of them is that family's own view, made first above: no other escape opens here.
    const once = families === 1 ? views[0] : view(text, ALL);
    if (families >= 2) views.push(once);
    if (once.text.includes('\\') || once.text.includes('&') || once.text.includes('%')) {
      views.push(compose(once, view(once.text, ALL)));
      views.push(compose(once, view(once.text, { ...ALL, plusSpace: true })));
    }
  }
  return views;
}
