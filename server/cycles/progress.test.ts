import { describe, expect, it } from 'vitest';
import { cycleProgress, type ProgressInput } from './progress.js';

const T0 = Date.UTC(2025, 0, 15, 9, 0, 0);
const MIN = 60_000;
const base: ProgressInput = {
  kind: 'initial',
  state: 'running',
  startedAt: T0,
  endedAt: T0 + 10 * MIN,
  processedObjects: 1000,
  expectedObjects: 5000,
  membersTouched: 0,
};

describe('cycleProgress', () => {
  it('reports processed over expected with an ETA from the current rate', () => {
    // 1,000 of 5,000 in 10 minutes: 100/min, 40 minutes to go
    expect(cycleProgress(base)).toMatchObject({
      processed: 1000,
      expected: 5000,
      percent: 20,
      ratePerMinute: 100,
      etaMs: 40 * MIN,
      etaAt: T0 + 50 * MIN,
    });
  });

  it("shows Entra's 0.01–0.08 min per user, group and member beside it", () => {
    // 5,000 objects + 3,000 memberships = 8,000 units: 80 to 640 minutes
    expect(cycleProgress({ ...base, membersTouched: 3000 })?.entraEstimate).toEqual({
      units: 8000,
      minMinutes: 80,
      maxMinutes: 640,
    });
  });

  it('has no percentage or ETA when the expected count is unknown', () => {
    // first initial cycle with no SCIMTAP_EXPECTED_OBJECTS: the rate is still known
    expect(cycleProgress({ ...base, expectedObjects: null })).toMatchObject({
      percent: null,
      etaMs: null,
      ratePerMinute: 100,
      entraEstimate: { units: 1000 },
    });
  });

  it('caps at 100% and gives no ETA once completed', () => {
    // more objects than expected (the tenant grew) and a finished cycle
    expect(cycleProgress({ ...base, state: 'completed', processedObjects: 6000 })).toMatchObject({
      percent: 100,
      etaMs: null,
    });
  });

  it('is null for cycles that are not initial', () => {
    // incremental cycles have no meaningful "expected"
    expect(cycleProgress({ ...base, kind: 'incremental' })).toBeNull();
  });

  it('has no rate before any time has passed', () => {
    // the first batch of a cycle: start and last operation at the same instant
    expect(cycleProgress({ ...base, endedAt: T0 })).toMatchObject({ ratePerMinute: null, etaMs: null });
  });
});
