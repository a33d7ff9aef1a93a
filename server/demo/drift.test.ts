import { describe, expect, it } from 'vitest';
import { DRIFT_CLEAN_CYCLES, DRIFT_MAX_SHARE, driftFor } from './drift.js';

describe('the drifting app’s script', () => {
  it('is clean for the first cycles, then refuses a growing share up to its cap', () => {
    for (let n = 1; n <= DRIFT_CLEAN_CYCLES; n++) expect(driftFor(n).share).toBe(0);
    const shares = Array.from({ length: 12 }, (_, i) => driftFor(DRIFT_CLEAN_CYCLES + 1 + i).share);
    expect(shares[0]).toBeGreaterThan(0);
    for (let i = 1; i < shares.length; i++) expect(shares[i]).toBeGreaterThanOrEqual(shares[i - 1]!);
    // past Entra's 40% escrow share within a few cycles, never all users
    expect(driftFor(DRIFT_CLEAN_CYCLES + 4).share).toBeGreaterThan(0.4);
    expect(driftFor(1_000).share).toBe(DRIFT_MAX_SHARE);
    expect(driftFor(DRIFT_CLEAN_CYCLES + 1).note).toMatch(/refuses 12% of users/);
  });
});
