import { describe, expect, it } from 'vitest';
import { matchPath, withSearch } from './router.js';

describe('matchPath', () => {
  it.each([
    ['/', '/', {}],
    ['/cycles/:id', '/cycles/12', { id: '12' }],
    // a trailing slash from a hand-typed link still matches
    ['/identities/:id', '/identities/42/', { id: '42' }],
    // parameters are decoded: an identity key may hold an @
    ['/identities/:id', '/identities/ada%40contoso.example', { id: 'ada@contoso.example' }],
    ['/cycles/:id', '/cycles', null],
    ['/cycles', '/cycles/12', null],
    ['/incidents/:id', '/operations/7', null],
    // a malformed escape is no match rather than a crash
    ['/identities/:id', '/identities/%E0%A4%A', null],
  ])('%s against %s', (pattern, path, params) => {
    expect(matchPath(pattern, path)).toEqual(params);
  });
});

describe('withSearch', () => {
  it('keeps set values in order and drops empty ones', () => {
    expect(
      withSearch('/operations', { status: 'failure', q: '', errorCode: 'Unauthorized', cycle: undefined }),
    ).toBe('/operations?status=failure&errorCode=Unauthorized');
    expect(withSearch('/cycles', {})).toBe('/cycles');
  });
  it('encodes values', () => {
    expect(withSearch('/operations', { q: 'a&b c' })).toBe('/operations?q=a%26b+c');
  });
});
