import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../demo/simulator/random.js';
import { viewsOf } from './decoded-views.js';

// Each decoded view maps every character back to the span of the original text it came from: the scrubber
// replaces a match in a view by replacing those spans. Plain text between escapes is copied a run at a time, so
// these check, over random texts dense with escapes, that the spans still tile the text in order and that every
// one-character span is that character (or `+` read as a space).

const pieces = [
  'a',
  'Z',
  '9',
  ' ',
  '+',
  '%',
  '%41',
  '%e2%82%ac',
  '%4',
  '\\',
  '\\u0041',
  '\\n',
  '\\x41',
  '\\u00',
  '&',
  '&amp;',
  '&#43;',
  '&#x41;',
  '&lt',
  '&nbsp;',
  '&bogus;',
  '%5Cu002B',
  '&amp;#43;',
  'é',
  '😀',
  '"',
];

function randomText(random: () => number): string {
  let text = '';
  const n = Math.floor(random() * 40);
  for (let i = 0; i < n; i++) text += pieces[Math.floor(random() * pieces.length)];
  return text;
}

/** Why `view`'s spans do not tile `text` in order, or null when they do. */
function spanProblem(text: string, view: ReturnType<typeof viewsOf>[number]): string | null {
  const { from: starts, to: ends } = view.spans();
  if (starts.length !== view.text.length || ends.length !== view.text.length) return 'one span per character';
  for (let i = 0; i < view.text.length; i++) {
    const [from, to] = [starts[i], ends[i]];
    if (to <= from) return `empty span at ${i}`;
    if (i === 0 && from !== 0) return 'does not start at 0';
    if (i > 0 && from !== starts[i - 1] && from !== ends[i - 1]) return `gap or overlap at ${i}`;
    const plain = to - from === 1;
    if (plain && text[from] !== view.text[i] && !(text[from] === '+' && view.text[i] === ' '))
      return `character ${i} is not its span`;
  }
  const n = view.text.length;
  return n > 0 && ends[n - 1] !== text.length ? 'does not end at the end' : null;
}

describe('decoded views', () => {
  it('map every character back to its span of the original text, in order, for 3,000 random texts', () => {
    const random = mulberry32(12);
    let checked = 0;
    const wrong: string[] = [];
    for (let t = 0; t < 3_000; t++) {
      const text = randomText(random);
      for (const view of viewsOf(text)) {
        checked++;
        const problem = spanProblem(text, view);
        if (problem) wrong.push(`${JSON.stringify(text)} → ${JSON.stringify(view.text)}: ${problem}`);
      }
    }
    expect(wrong).toEqual([]);
    expect(checked).toBeGreaterThan(3_000);
  });

  it('decode each escape family, alone and nested', () => {
    const texts = (text: string) => viewsOf(text).map((v) => v.text);
    expect(texts('a\\u0041b')).toEqual(['aAb']);
    expect(texts('x&amp;y')).toContain('x&y');
    expect(texts('p%41+q')).toEqual(['pA+q', 'pA q']);
    expect(texts('%5Cu0041')).toContain('A');
    expect(texts('plain text')).toEqual([]);
  });
});
