import { describe, expect, it } from 'vitest';
import {
  formatCount,
  formatDuration,
  formatPercent,
  formatRelative,
  humanizeKey,
  isoToLocalInput,
  localInputToIso,
} from './format.js';

describe('formatDuration', () => {
  it.each([
    [null, '—'],
    [0, '0 ms'],
    [850, '850 ms'],
    // below 10 s a decimal still matters (a slow call vs a timeout)
    [4_200, '4.2 s'],
    [42_000, '42 s'],
    [185_000, '3m 05s'],
    [2 * 3_600_000 + 7 * 60_000, '2h 07m'],
    [3 * 86_400_000 + 4 * 3_600_000, '3d 4h'],
    // negative spans read the same (used for "ago")
    [-185_000, '3m 05s'],
  ])('%s → %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});

describe('formatRelative', () => {
  const now = Date.parse('2024-05-01T10:00:00.000Z');
  it.each([
    ['2024-05-01T10:04:10.000Z', 'in 4m 10s'],
    ['2024-05-01T09:57:00.000Z', '3m 00s ago'],
    ['2024-05-01T10:00:00.400Z', 'now'],
    [null, '—'],
    ['not a time', '—'],
  ])('%s → %s', (iso, text) => {
    expect(formatRelative(iso, now)).toBe(text);
  });
});

describe('formatPercent / formatCount', () => {
  it.each([
    [0, '0%'],
    // a small failure share keeps its decimal so it never reads as 0%
    [0.003, '0.3%'],
    [0.125, '13%'],
    [1, '100%'],
    [null, '—'],
  ])('%s → %s', (share, text) => {
    expect(formatPercent(share)).toBe(text);
  });
  it('groups thousands', () => {
    expect(formatCount(1_234_567)).toBe('1,234,567');
    expect(formatCount(undefined)).toBe('—');
  });
});

describe('datetime-local ⇄ ISO', () => {
  it('round-trips through local time to the minute', () => {
    const iso = localInputToIso('2024-05-01T10:30');
    expect(iso).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:00\.000Z$/);
    expect(isoToLocalInput(iso)).toBe('2024-05-01T10:30');
  });
  it('treats empty and invalid values as no filter', () => {
    expect(localInputToIso('')).toBeUndefined();
    expect(localInputToIso('nope')).toBeUndefined();
    expect(isoToLocalInput(undefined)).toBe('');
  });
});

describe('humanizeKey', () => {
  it.each([
    ['lastGoodTokenFingerprint', 'last good token fingerprint'],
    ['httpStatus', 'http status'],
    // acronyms stay one word
    ['p95Ms', 'p95 ms'],
    ['probeHTTPStatus', 'probe http status'],
    ['count', 'count'],
  ])('%s → %s', (key, words) => {
    expect(humanizeKey(key)).toBe(words);
  });
});
