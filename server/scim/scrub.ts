// Removes known secret values from recorded text, in the escaped forms apps really echo them in.
// Pure and linear: the escapes are undone into a few decoded views of the text (decoded-views.ts, each keeping a
// map back to the original offsets), and every view is scanned once by one Aho-Corasick automaton
// (aho-corasick.ts) over all the secrets' literal forms. No regular expression ever runs on the input.
import { Automaton } from './aho-corasick.js';
import { type View, viewsOf } from './decoded-views.js';

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
      ranges.push(view ? view.spans().from[t.length - tail] : t.length - tail, text.length);
    };
    const tail = automaton.scan(text, (a, b) => ranges.push(a, b));
    tailFrom(null, text, tail);
    for (const view of viewsOf(text)) {
      if (view.text === text) continue;
      const t = automaton.scan(view.text, (a, b) => {
        const { from, to } = view.spans();
        ranges.push(from[a], to[b - 1]);
      });
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
