import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../demo/simulator/random.js';
import { Automaton } from './aho-corasick.js';

/** The longest pattern ending at each position, by brute force: what `scan` reports. */
function naiveHits(text: string, patterns: string[]): string[] {
  const hits: string[] = [];
  for (let end = 1; end <= text.length; end++) {
    let longest = 0;
    for (const p of patterns) if (p.length > longest && text.slice(0, end).endsWith(p)) longest = p.length;
    if (longest > 0) hits.push(`${end - longest}-${end}`);
  }
  return hits;
}

describe('Automaton', () => {
  // The root's ASCII transitions are a table, the rest Maps: mixing both alphabets exercises every path.
  const alphabet = ['a', 'b', 'c', 'é', '€', '\u{1F511}', '%', '"'];
  const random = mulberry32(7);
  const word = (max: number) => {
    let s = '';
    const n = 1 + Math.floor(random() * max);
    for (let i = 0; i < n; i++) s += alphabet[Math.floor(random() * alphabet.length)];
    return s;
  };

  it('finds what a brute-force search finds, for 2,000 random pattern sets and texts', () => {
    const wrong: string[] = [];
    for (let t = 0; t < 2_000; t++) {
      const patterns = Array.from({ length: 1 + Math.floor(random() * 4) }, () => word(4));
      const text = word(40);
      const hits: string[] = [];
      new Automaton(patterns).scan(text, (a, b) => hits.push(`${a}-${b}`));
      const expected = naiveHits(text, patterns);
      if (hits.join() !== expected.join())
        wrong.push(`${JSON.stringify(patterns)} in ${JSON.stringify(text)}`);
    }
    expect(wrong).toEqual([]);
  });

  it('returns how many trailing characters begin a pattern', () => {
    const a = new Automaton(['token-benchmark', 'é€x']);
    expect(a.scan('a Bearer token-ben', () => {})).toBe(9);
    expect(a.scan('abcé€', () => {})).toBe(2);
    expect(a.scan('nothing here', () => {})).toBe(0);
  });
});
