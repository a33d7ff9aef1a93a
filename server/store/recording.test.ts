import { describe, expect, it } from 'vitest';
import { burstRoom } from './recording.js';
import { budgetPlan } from './storage.js';

const MB = 1024 * 1024;
const roomAt = (budgetMb: number) => burstRoom(budgetPlan(budgetMb * MB).pruneBelowBytes);

// Rows a burst logs first cannot be pruned until derivation moves them (issue 12): the budget must leave them room.
describe('room for a burst logged first', () => {
  it('is half of where pruning stops, on a budget that can hold a burst', () => {
    // The default budget, 1,024 MB: pruning stops under 0.8 of the file's share.
    expect(roomAt(1_024)).toBe(budgetPlan(1_024 * MB).pruneBelowBytes / 2);
    expect(roomAt(1_024) / MB).toBeCloseTo(384, 0);
  });

  it('keeps 64 MB free for the burst itself below where pruning stops, whatever the budget', () => {
    for (const budgetMb of [8, 64, 100, 160, 200, 500, 1_024, 10_000]) {
      const prune = budgetPlan(budgetMb * MB).pruneBelowBytes;
      expect(prune - roomAt(budgetMb), `${budgetMb} MB`).toBeGreaterThanOrEqual(64 * MB);
    }
  });

  it('is none on a budget too small for a burst: every burst is written through', () => {
    // CI's storage-flood test runs at 8 MB: bursts logged first took its file to 1.17× the budget.
    expect(roomAt(8)).toBeLessThanOrEqual(0);
    expect(roomAt(64)).toBeLessThanOrEqual(0);
  });
});
