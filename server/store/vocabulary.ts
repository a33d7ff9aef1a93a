import type { operations } from './schema/index.js';

type StoredKey = keyof typeof operations.$inferSelect;

/**
 * One name per field (STYLE §4): each operation field the CSV export carries, by the key it is stored under,
 * with the one name the API, the CSV header and the dashboard's types use for it. The CSV's names are the
 * contract (ARCHITECTURE §9, Microsoft Graph's provisioning-log names), so where the stored key is shorter
 * (`time`, `durationMs`) the API says what the CSV says. In CSV column order.
 *
 * Not operation fields, so not renamed: an identity's own `type` and `name` (/api/identities, cycle outcomes:
 * the userName or displayName that an operation calls `identity`), a cycle's `durationMs`, a delivery attempt's.
 */
export const operationFieldNames = {
  id: 'id',
  time: 'activityDateTime',
  cycleId: 'cycleId',
  provisioningAction: 'provisioningAction',
  operation: 'operation',
  status: 'status',
  identityType: 'identityType',
  identity: 'identity',
  externalId: 'externalId',
  targetId: 'targetId',
  httpMethod: 'httpMethod',
  path: 'path',
  httpStatus: 'httpStatus',
  durationMs: 'durationInMilliseconds',
  errorCode: 'errorCode',
  scimType: 'scimType',
  reason: 'reason',
  modifiedProperties: 'modifiedProperties',
} as const satisfies Partial<Record<StoredKey, string>>;

/** The stored keys whose API and CSV name differs from the key itself. */
export type RenamedKey = {
  [K in keyof typeof operationFieldNames]: (typeof operationFieldNames)[K] extends K ? never : K;
}[keyof typeof operationFieldNames];
