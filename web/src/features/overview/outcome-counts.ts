import {
  type OperationKind,
  operationKinds,
  type ProvisioningAction,
  provisioningActionOf,
} from '../../../../server/vocabulary.js';
import type { CycleDetail } from '../../types/api.js';

export interface OutcomeCounts {
  created: number;
  updated: number;
  disabled: number;
  deleted: number;
  failed: number;
}

// Entra's provisioning log speaks of created, updated, disabled and deleted objects: an operation counts under
// its provisioning action (server/vocabulary.ts), and one with none (`other`: reads, probes) is not a change.
const countedAs: Record<ProvisioningAction, keyof OutcomeCounts | undefined> = {
  create: 'created',
  update: 'updated',
  disable: 'disabled',
  delete: 'deleted',
  other: undefined,
};

const isOperationKind = (name: string): name is OperationKind =>
  (operationKinds as readonly string[]).includes(name);

/** A cycle's counts as the overview shows them: accepted changes per kind, and every failed call. */
export function outcomeCounts(cycle: Pick<CycleDetail, 'countsByOperation' | 'failures'>): OutcomeCounts {
  const out: OutcomeCounts = { created: 0, updated: 0, disabled: 0, deleted: 0, failed: cycle.failures };
  for (const [operation, counts] of Object.entries(cycle.countsByOperation)) {
    const key = isOperationKind(operation) ? countedAs[provisioningActionOf[operation]] : undefined;
    // warnings were accepted by the app (e.g. 200 instead of 201): the change happened
    if (key) out[key] += counts.success + counts.warning;
  }
  return out;
}
