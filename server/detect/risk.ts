import type { RulesConfig } from '../config.js';

/**
 * What a cycle means for Entra's provisioning job, the one colour scale of the dashboard (red, amber, none):
 *
 *   quarantine  Entra would count it toward quarantine: its Test Connection probe failed, the app refused the
 *               credentials (401/403) or gave a non-SCIM answer to a filter query, or the failure share is over
 *               the escrow-proportion threshold (rules.escrowProportionShare with at least
 *               rules.escrowProportionMinFailures failures, as the `escrowProportion` rule fires)
 *   failures    some calls failed, none of the above: per-object escrows Entra retries next cycle
 *   clean       no failure
 */
export const cycleRisks = ['quarantine', 'failures', 'clean'] as const;
export type CycleRisk = (typeof cycleRisks)[number];

/** The counts a cycle's risk follows; the API exposes each of them beside `risk`. */
export interface RiskCounts {
  total: number;
  failures: number;
  /** the cycle's Test Connection probe failed */
  probeFailed: boolean;
  /** calls answered 401 or 403 */
  authFailures: number;
  /** filter queries answered 404, non-ListResponse or unparseable */
  complianceFailures: number;
}

export type RiskRules = Pick<RulesConfig, 'escrowProportionShare' | 'escrowProportionMinFailures'>;

export function cycleRisk(c: RiskCounts, rules: RiskRules): CycleRisk {
  if (c.probeFailed || c.authFailures > 0 || c.complianceFailures > 0) return 'quarantine';
  if (overEscrowShare(c, rules)) return 'quarantine';
  return c.failures > 0 ? 'failures' : 'clean';
}

export function overEscrowShare(c: Pick<RiskCounts, 'total' | 'failures'>, rules: RiskRules): boolean {
  return (
    c.total > 0 &&
    c.failures >= rules.escrowProportionMinFailures &&
    c.failures / c.total > rules.escrowProportionShare
  );
}

/** A stored cycle's error-code counts, as the risk reads them (codes of ARCHITECTURE §4). */
export function riskCountsFromErrorCodes(codes: Record<string, number>): {
  authFailures: number;
  complianceFailures: number;
} {
  return {
    authFailures: (codes.Unauthorized ?? 0) + (codes.InsufficientRights ?? 0),
    complianceFailures: codes.ScimCompliance ?? 0,
  };
}
