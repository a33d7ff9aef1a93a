import { describe, expect, it } from 'vitest';
import type { Cycle, CycleProgress } from '../../types/api.js';
import { progressView } from './cycle-progress.js';

const T0 = Date.parse('2024-05-01T10:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();
const progress = (over: Partial<CycleProgress> = {}): CycleProgress => ({
  processed: 50,
  expected: 200,
  percent: 25,
  ratePerMinute: 10,
  etaMs: 15 * 60_000,
  etaAt: iso(T0 + 5 * 60_000 + 15 * 60_000),
  entraEstimate: { units: 240, minMinutes: 2.4, maxMinutes: 19.2 },
  ...over,
});
const cycle = (over: Partial<Cycle> = {}) =>
  ({
    state: 'running',
    kind: 'initial',
    startedAt: iso(T0),
    endedAt: iso(T0 + 5 * 60_000),
    usersTouched: 40,
    groupsTouched: 10,
    progress: progress(),
    ...over,
  }) as Cycle;

describe('progressView', () => {
  it('a running initial cycle with a known size: percent, processed/expected, ETA counted down from now', () => {
    const v = progressView(cycle(), T0 + 10 * 60_000);
    expect(v).toMatchObject({
      percent: 25,
      label: '25%',
      processedText: '50 / 200 objects',
      elapsedMs: 10 * 60_000,
    });
    expect(v.etaText).toMatch(/^10m 00s left \(about \d\d:\d\d\)$/);
    expect(v.entraText).toBe('Entra estimates 2m 24s–19m 12s for 240 users, groups and members');
  });

  it('keeps a decimal below 10% so early progress is visible', () => {
    expect(progressView(cycle({ progress: progress({ percent: 2.5 }) }), T0).label).toBe('2.5%');
  });

  it('never shows a past ETA as negative', () => {
    expect(progressView(cycle(), T0 + 60 * 60_000).etaText).toMatch(/^0 ms left/);
  });

  it('an initial cycle of unknown size: indeterminate, says how to make it exact', () => {
    const v = progressView(
      cycle({ progress: progress({ expected: null, percent: null, etaMs: null, etaAt: null }) }),
      T0,
    );
    expect(v.percent).toBeNull();
    expect(v.processedText).toBe('50 objects so far');
    expect(v.etaText).toBe('unknown');
    expect(v.hint).toContain('SCIMTAP_EXPECTED_OBJECTS');
  });

  it('an incremental cycle has no progress object: counts touched users and groups', () => {
    const v = progressView(cycle({ kind: 'incremental', progress: null }), T0 + 60_000);
    expect(v).toMatchObject({
      percent: null,
      processedText: '50 objects so far',
      etaText: 'unknown',
      entraText: null,
      hint: null,
    });
  });

  it('a completed cycle is a full bar with its real duration, whatever the time now', () => {
    const v = progressView(
      cycle({ state: 'completed', kind: 'incremental', progress: null }),
      T0 + 99 * 60_000,
    );
    expect(v).toMatchObject({ percent: 100, label: 'completed', etaText: 'done', elapsedMs: 5 * 60_000 });
  });
});
