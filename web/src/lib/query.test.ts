import { partialMatchKey } from '@tanstack/react-query';
import { describe, expect, it } from 'vitest';
import { appKey } from './query.js';

describe('appKey', () => {
  it("starts every key with its app, so two apps' answers never share a cache entry", () => {
    expect(appKey('tanium', 'cycle', 3)).toEqual(['app', 'tanium', 'cycle', 3]);
    expect(appKey('tanium', 'status')).not.toEqual(appKey('workday', 'status'));
    // the single app (no app in the URL) has its own
    expect(appKey(null, 'status')).toEqual(['app', null, 'status']);
  });

  it("invalidating one app's incidents matches that app's queries only", () => {
    const filter = appKey('tanium', 'incidents');
    expect(partialMatchKey(appKey('tanium', 'incidents', 'firing', ''), filter)).toBe(true);
    expect(partialMatchKey(appKey('workday', 'incidents', 'firing', ''), filter)).toBe(false);
    expect(partialMatchKey(appKey(null, 'incidents', '', ''), filter)).toBe(false);
  });
});
