import { describe, expect, it } from 'vitest';
import { appPath, currentApp, splitAppPath } from './app-scope.js';

describe('splitAppPath', () => {
  it.each([
    ['/apps/tanium/incidents/7', { app: 'tanium', path: '/incidents/7' }],
    ['/apps/tanium/', { app: 'tanium', path: '/' }],
    // the app's root without its trailing slash, as someone may type it
    ['/apps/tanium', { app: 'tanium', path: '/' }],
    ['/apps/tanium/cycles/', { app: 'tanium', path: '/cycles/' }],
    // ids are decoded
    ['/apps/hr%20suite/cycles', { app: 'hr suite', path: '/cycles' }],
    // no app: today's single-app paths and the fleet page
    ['/', { app: null, path: '/' }],
    ['/incidents/7', { app: null, path: '/incidents/7' }],
    ['/apps', { app: null, path: '/apps' }],
    ['/apps/', { app: null, path: '/apps/' }],
    ['/apps//cycles', { app: null, path: '/apps//cycles' }],
    // a page that merely starts with "apps" is not an app
    ['/appsx/tanium', { app: null, path: '/appsx/tanium' }],
    // a malformed escape names no app rather than crashing
    ['/apps/%E0%A4%A/cycles', { app: null, path: '/apps/%E0%A4%A/cycles' }],
  ])('%s', (pathname, want) => {
    expect(splitAppPath(pathname)).toEqual(want);
  });
});

describe('appPath', () => {
  it("puts the app's prefix in front of an app-relative path", () => {
    expect(appPath('/cycles/3', 'tanium')).toBe('/apps/tanium/cycles/3');
    expect(appPath('/', 'tanium')).toBe('/apps/tanium/');
    expect(appPath('/operations?cycle=3&status=failure', 'tanium')).toBe(
      '/apps/tanium/operations?cycle=3&status=failure',
    );
    expect(appPath('/?tab=x', 'tanium')).toBe('/apps/tanium/?tab=x');
  });

  it('encodes the app id', () => {
    expect(appPath('/cycles', 'hr suite/eu')).toBe('/apps/hr%20suite%2Feu/cycles');
    expect(splitAppPath(appPath('/cycles', 'hr suite/eu'))).toEqual({ app: 'hr suite/eu', path: '/cycles' });
  });

  it('leaves paths alone with no app (the single app and the fleet page)', () => {
    expect(appPath('/cycles/3', null)).toBe('/cycles/3');
    expect(appPath('/', null)).toBe('/');
  });

  it('is idempotent and leaves paths that already name an app alone', () => {
    const once = appPath('/incidents/7', 'tanium');
    expect(appPath(once, 'tanium')).toBe(once);
    expect(appPath('/apps/workday/', 'tanium')).toBe('/apps/workday/');
  });

  it('leaves anything that is not an absolute path alone', () => {
    expect(appPath('#main', 'tanium')).toBe('#main');
    expect(appPath('https://example.com/x', 'tanium')).toBe('https://example.com/x');
    expect(appPath('//example.com/x', 'tanium')).toBe('//example.com/x');
  });
});

describe('currentApp', () => {
  it('is null without a browser', () => {
    expect(currentApp()).toBeNull();
  });
});
