import type { CycleDetail } from '../../types/api.js';

export interface OutcomeCounts {
  created: number;
  updated: number;
  disabled: number;
  deleted: number;
  failed: number;
}

// Entra's provisioning log speaks of created, updated, disabled and deleted objects; scimtap's operations map
// onto those (re-enabling and membership changes are updates, as Entra counts them).
const bucketOf: Record<string, keyof OutcomeCounts | undefined> = {
  create: 'created',
  update: 'updated',
  enable: 'updated',
  addMembers: 'updated',
  removeMembers: 'updated',
  replaceMembers: 'updated',
  disable: 'disabled',
  delete: 'deleted',
};

/** A cycle's counts as the overview shows them: accepted changes per kind, and every failed call. */
export function outcomeCounts(cycle: Pick<CycleDetail, 'countsByOperation' | 'failures'>): OutcomeCounts {
  const out: OutcomeCounts = { created: 0, updated: 0, disabled: 0, deleted: 0, failed: cycle.failures };
  for (const [operation, counts] of Object.entries(cycle.countsByOperation)) {
    const key = bucketOf[operation];
    // warnings were accepted by the app (e.g. 200 instead of 201): the change happened
    if (key) out[key] += counts.success + counts.warning;
  }
  return out;
}
