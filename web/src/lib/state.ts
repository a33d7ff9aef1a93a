import type { OverallState } from '../../../server/cycles/health.js';

// An app's overall provisioning state (server/cycles/health.ts) in the dashboard's one vocabulary: the overview's
// banner and the fleet page's badges say the same words. Colour is never the only signal: each has an icon.

export type { OverallState };

export const stateLook: Record<OverallState, { icon: string; label: string }> = {
  healthy: { icon: '✓', label: 'Healthy' },
  degraded: { icon: '!', label: 'Degraded' },
  atRisk: { icon: '⚠', label: 'At risk of quarantine' },
  quarantineSuspected: { icon: '‼', label: 'Quarantine suspected' },
  stalled: { icon: '‖', label: 'Stalled' },
  idle: { icon: '○', label: 'Idle' },
};

/** The look of a state, with a fallback for a state a newer server may add. */
export const lookOf = (state: string): { icon: string; label: string } =>
  stateLook[state as OverallState] ?? { icon: '?', label: state };
