import { describe, expect, it } from 'vitest';
import { findRoute, matchPath, withSearch } from './router.js';

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

describe('findRoute', () => {
  const routes = [{ path: '/' }, { path: '/cycles' }, { path: '/cycles/:id' }, { path: '/incidents/:id' }];

  it("matches an app's pages under /apps/:app with today's patterns", () => {
    expect(findRoute(routes, '/apps/tanium/incidents/7')).toEqual({
      app: 'tanium',
      path: '/incidents/7',
      route: { path: '/incidents/:id' },
      params: { id: '7' },
    });
    expect(findRoute(routes, '/apps/tanium/')).toMatchObject({ app: 'tanium', route: { path: '/' } });
    expect(findRoute(routes, '/apps/tanium')).toMatchObject({ app: 'tanium', route: { path: '/' } });
    expect(findRoute(routes, '/apps/tanium/cycles/')).toMatchObject({
      app: 'tanium',
      route: { path: '/cycles' },
    });
  });

  it("the app's id is not a route parameter, so a page's :id is the page's own", () => {
    expect(findRoute(routes, '/apps/12/cycles/3').params).toEqual({ id: '3' });
  });

  it('matches unprefixed paths as today, with no app', () => {
    expect(findRoute(routes, '/cycles/12')).toMatchObject({ app: null, route: { path: '/cycles/:id' } });
    expect(findRoute(routes, '/')).toMatchObject({ app: null, route: { path: '/' } });
  });

  it('finds nothing for an unknown page, inside an app or not', () => {
    expect(findRoute(routes, '/apps/tanium/nope')).toMatchObject({
      app: 'tanium',
      path: '/nope',
      route: null,
    });
    expect(findRoute(routes, '/nope')).toMatchObject({ app: null, route: null });
    // /apps alone is no app and no page
    expect(findRoute(routes, '/apps')).toMatchObject({ app: null, route: null });
  });
});
