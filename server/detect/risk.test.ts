import { describe, expect, it } from 'vitest';
import { rulesSchema } from '../config.js';
import { type CycleRisk, cycleRisk, type RiskCounts, riskCountsFromErrorCodes } from './risk.js';

const rules = rulesSchema.parse({});
const cycle = (c: Partial<RiskCounts>): RiskCounts => ({
  total: 100,
  failures: 0,
  probeFailed: false,
  authFailures: 0,
  complianceFailures: 0,
  ...c,
});

describe('cycleRisk', () => {
  const cases: [string, Partial<RiskCounts>, CycleRisk][] = [
    // no failure at all
    ['a clean cycle', {}, 'clean'],
    // the demo's 1.6% and 5.1% cycles: per-object escrows, not a quarantine
    ['1.6% failed', { total: 1000, failures: 16 }, 'failures'],
    ['5.1% failed', { total: 1000, failures: 51 }, 'failures'],
    // one failure is enough for amber
    ['a single failure', { failures: 1 }, 'failures'],
    // over 40% with at least 10 failures: Entra's escrow-proportion quarantine
    ['41% of 100 failed', { failures: 41 }, 'quarantine'],
    // exactly at the share is not over it
    ['40% of 100 failed', { failures: 40 }, 'failures'],
    // over the share but fewer failures than the rule needs: a tiny cycle does not quarantine
    ['3 of 4 failed', { total: 4, failures: 3 }, 'failures'],
    ['10 of 12 failed', { total: 12, failures: 10 }, 'quarantine'],
    // Entra's Test Connection at the cycle start failed: the job is quarantined whatever the rest did
    ['the probe failed', { total: 1, failures: 1, probeFailed: true }, 'quarantine'],
    // one 401/403 means the credentials are refused
    ['one 401 among 100', { failures: 1, authFailures: 1 }, 'quarantine'],
    // a filter query answered non-compliantly
    ['a non-compliant lookup', { failures: 1, complianceFailures: 1 }, 'quarantine'],
    // an empty cycle (a running one that has only opened)
    ['no calls', { total: 0 }, 'clean'],
  ];
  it.each(cases)('%s → %s', (_name, counts, expected) => {
    expect(cycleRisk(cycle(counts), rules)).toBe(expected);
  });

  it('follows the configured escrow thresholds', () => {
    // a 20% share with a 10% threshold and a minimum of 5 failures
    const strict = { ...rules, escrowProportionShare: 0.1, escrowProportionMinFailures: 5 };
    expect(cycleRisk(cycle({ failures: 20 }), strict)).toBe('quarantine');
    expect(cycleRisk(cycle({ failures: 20 }), rules)).toBe('failures');
  });
});

describe('riskCountsFromErrorCodes', () => {
  it('counts 401 and 403 codes as refused credentials and ScimCompliance as non-compliant', () => {
    // the error codes a stored cycle keeps (ARCHITECTURE §4)
    expect(
      riskCountsFromErrorCodes({
        Unauthorized: 3,
        InsufficientRights: 1,
        ScimCompliance: 2,
        InternalServerError: 9,
        TooManyRequests: 4,
      }),
    ).toEqual({ authFailures: 4, complianceFailures: 2 });
    expect(riskCountsFromErrorCodes({})).toEqual({ authFailures: 0, complianceFailures: 0 });
  });
});
