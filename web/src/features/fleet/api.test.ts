import { describe, expect, it } from 'vitest';
import type { Apps } from '../../types/api.js';
import { appCount } from './api.js';

describe('appCount', () => {
  const apps = (n: number) => ({ apps: Array.from({ length: n }, () => ({})) }) as unknown as Apps;

  it("is the list's length", () => {
    expect(appCount(apps(3))).toBe(3);
    expect(appCount(apps(1))).toBe(1);
    expect(appCount(apps(0))).toBe(0);
  });
  it('a server without /api/apps (null) serves one app', () => {
    expect(appCount(null)).toBe(1);
  });
  it('unknown before the list is read', () => {
    expect(appCount(undefined)).toBeUndefined();
  });
});
