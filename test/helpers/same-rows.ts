import { cycles, identities, memberships, operations } from '../../server/store/schema/index.js';
import * as pgSchema from '../../server/store/schema-pg/index.js';
import type { BothStores } from './both-stores.js';

// The same rows added to both stores of `recordedOnBothStores`, for a branch the recorded data never takes
// (a deleted identity, a warning, an unrecognised client ...). Give ids above the recorded ones: both stores
// then hold them under the same ids.

export async function addCycles(both: BothStores, rows: (typeof cycles.$inferInsert)[]): Promise<void> {
  both.sqlite.insert(cycles).values(rows).run();
  await both.pg.insert(pgSchema.cycles).values(rows);
}

export async function addIdentities(
  both: BothStores,
  rows: (typeof identities.$inferInsert)[],
): Promise<void> {
  both.sqlite.insert(identities).values(rows).run();
  await both.pg.insert(pgSchema.identities).values(rows);
}

export async function addMemberships(
  both: BothStores,
  rows: (typeof memberships.$inferInsert)[],
): Promise<void> {
  both.sqlite.insert(memberships).values(rows).run();
  await both.pg.insert(pgSchema.memberships).values(rows);
}

export async function addOperations(
  both: BothStores,
  rows: (typeof operations.$inferInsert)[],
): Promise<void> {
  both.sqlite.insert(operations).values(rows).run();
  await both.pg.insert(pgSchema.operations).values(rows);
}

/** An operation with the columns every row needs; `over` sets the rest. */
export function operationRow(
  id: number,
  over: Partial<typeof operations.$inferInsert> = {},
): typeof operations.$inferInsert {
  return {
    id,
    time: Date.UTC(2025, 0, 16) + id * 1_000,
    durationMs: 12,
    httpMethod: 'PATCH',
    path: `/scim/v2/Users/x-${id}`,
    resourceType: 'User',
    operation: 'update',
    provisioningAction: 'update',
    status: 'success',
    ...over,
  };
}
