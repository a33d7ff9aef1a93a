import { describe, expect, it } from 'vitest';
import { dotSegment } from './target.js';

describe('dotSegment', () => {
  it.each([
    ['/../../etc/passwd', '..'],
    ['/Users/..', '..'],
    ['/./Users', '.'],
    ['/Users/%2e%2e/x', '..'],
    ['/Users/%2E%2e%2fx', '..'],
    ['/Users/%252e%252e%252fx', '..'],
    ['/Users\\..\\x', '..'],
    ['/Users/%5c..%5cx', '..'],
    ['/Users/..;/admin', '..'],
    ['/Users/..%3bjsessionid=1/x', '..'],
    ['/Users/%c0%ae%c0%ae/x', '..'],
    ['/Users/%2e', '.'],
  ])('finds one in %s', (path, dot) => {
    expect(dotSegment(path)).toBe(dot);
  });

  it.each([
    '/Users',
    '/scim/v2/Users/john.doe',
    '/Users/a..b',
    '/Users/....',
    '/Users/...',
    '/Users/.search',
    '/Users/%2e%2e%2e',
    '/Users/%zz%',
    '/Users/%E0%A4',
    '//Users',
    '/Users/%2F',
    '*',
  ])('finds none in %s', (path) => {
    expect(dotSegment(path)).toBeNull();
  });
});
