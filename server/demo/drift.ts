/**
 * The drifting app's script (Fabrikam HR in the demo): its SCIM API starts enforcing a validation rule that a
 * growing share of the tenant's users break. Each refused user's change stays in Entra's escrow and is retried
 * every cycle, so the failures pile up: a few failures, then objects failing cycle after cycle (stuckObject:
 * degraded), then most of a cycle's calls failing (escrowProportion: Entra's quarantine threshold).
 */

/** Cycles before the drift starts: the initial cycle and one incremental cycle are clean. */
export const DRIFT_CLEAN_CYCLES = 2;
/** How much the refused share of users grows each cycle once the drift has started. */
export const DRIFT_STEP = 0.12;
/** The share never passes this: some users still go through, as they would with a real validation rule. */
export const DRIFT_MAX_SHARE = 0.85;

/** Pure: the share of users the app refuses from the n-th cycle's start (1-based), and what to log. */
export function driftFor(cycle: number): { share: number; note: string } {
  const steps = cycle - DRIFT_CLEAN_CYCLES;
  if (steps <= 0) return { share: 0, note: 'the app accepts every change' };
  const share = Math.min(DRIFT_MAX_SHARE, Math.round(steps * DRIFT_STEP * 100) / 100);
  return {
    share,
    note: `the app refuses ${Math.round(share * 100)}% of users (400 invalidValue on update, 409 uniqueness on create); their changes stay escrowed`,
  };
}
