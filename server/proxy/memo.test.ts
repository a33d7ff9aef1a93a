import { describe, expect, it } from 'vitest';
import { memoize } from './memo.js';

describe('memoize', () => {
  it('computes a short key once, a long one every time, and forgets all past its size', () => {
    const calls: string[] = [];
    const f = memoize(
      (k) => {
        calls.push(k);
        return k.length === 0 ? null : k.toUpperCase();
      },
      { size: 2, maxChars: 4 },
    );
    expect([f('ab'), f('ab'), f(''), f('')]).toEqual(['AB', 'AB', null, null]);
    expect(calls).toEqual(['ab', '']);
    expect([f('abcde'), f('abcde')]).toEqual(['ABCDE', 'ABCDE']);
    expect(calls).toEqual(['ab', '', 'abcde', 'abcde']);
    f('cd'); // a third answer: the first two are forgotten
    f('ab');
    expect(calls.slice(4)).toEqual(['cd', 'ab']);
  });
});
