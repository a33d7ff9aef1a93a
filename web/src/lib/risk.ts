import type { CycleRisk } from '../../../server/detect/risk.js';

// The dashboard's one colour scale for cycles, read from the API's `risk` (server/detect/risk.ts decides it):
// red where Entra would count the cycle toward quarantine, amber for some failures, nothing when clean.

export type { CycleRisk };

export const riskLook: Record<CycleRisk, { icon: string; label: string; title: string }> = {
  quarantine: {
    icon: '‼',
    label: 'quarantine risk',
    title:
      'Entra would count this cycle toward quarantine: probe failed, credentials refused (401/403), a non-SCIM answer, or failures over the escrow threshold',
  },
  failures: {
    icon: '!',
    label: 'some failures',
    title: 'Some calls failed: Entra escrows those objects and retries them next cycle',
  },
  clean: { icon: '✓', label: 'clean', title: 'No call failed' },
};

/** The row edge of a cycle: red, amber, or none. */
export function riskRowClass(risk: CycleRisk): string | undefined {
  return risk === 'clean' ? undefined : `row-risk-${risk}`;
}
