import { describe, expect, it } from 'vitest';
import { ApiError } from '../../lib/api-client.js';
import type { Apps } from '../../types/api.js';
import { appCount } from './api.js';

describe('appCount', () => {
  const apps = (n: number) => ({ apps: Array.from({ length: n }, () => ({})) }) as unknown as Apps;

  it("is the list's length", () => {
    expect(appCount(apps(3), null)).toBe(3);
    expect(appCount(apps(1), null)).toBe(1);
  });
  it('a server without /api/apps serves one app', () => {
    expect(appCount(undefined, new ApiError(404, 'notFound', 'no route'))).toBe(1);
  });
  it('unknown while loading or after another failure', () => {
    expect(appCount(undefined, null)).toBeNull();
    expect(appCount(undefined, new ApiError(500, 'internal', 'boom'))).toBeNull();
    expect(appCount(undefined, new TypeError('Failed to fetch'))).toBeNull();
  });
});
