// The vocabulary of ARCHITECTURE §4–§6 (STYLE §4): every closed set of names scimtap records, stores, serves and
// shows, and the maps derived from them. Pure data, no imports: the classifier, the schema's typed columns, the
// API's filters, the rules and the dashboard (web/) all import it, so a name exists once.

/**
 * Whose request an operation was: Entra's provisioning job (`provisioning`), or anyone else who reached the
 * proxy listener (`unrecognised`: scanners, wrong tokens, refused addresses). See server/cycles/clients.ts.
 */
export const clientKinds = ['provisioning', 'unrecognised'] as const;
export type ClientKind = (typeof clientKinds)[number];

export const resourceTypes = [
  'User',
  'Group',
  'Schema',
  'ServiceProviderConfig',
  'ResourceType',
  'Bulk',
  'Other',
] as const;
export type ResourceType = (typeof resourceTypes)[number];

/** The users and groups whose outcomes scimtap follows (an operation's `identityType`, an identity's `type`). */
export const identityTypes = ['User', 'Group'] as const;
export type IdentityType = (typeof identityTypes)[number];

export const operationKinds = [
  'testConnection',
  'lookup',
  'list',
  'read',
  'create',
  'update',
  'enable',
  'disable',
  'delete',
  'addMembers',
  'removeMembers',
  'replaceMembers',
  'schemaDiscovery',
  'other',
] as const;
export type OperationKind = (typeof operationKinds)[number];

/** Entra's vocabulary for the provisioning log (the CSV's `provisioningAction`). */
export const provisioningActions = ['create', 'update', 'disable', 'delete', 'other'] as const;
export type ProvisioningAction = (typeof provisioningActions)[number];

/**
 * The action Entra's provisioning log records for each operation: re-enabling a user and changing a group's
 * members are updates, as Entra counts them; reads, lookups and probes change nothing (`other`).
 * Total over the operations, so a new operation kind does not compile until it is given an action.
 */
export const provisioningActionOf: { readonly [K in OperationKind]: ProvisioningAction } = {
  testConnection: 'other',
  lookup: 'other',
  list: 'other',
  read: 'other',
  create: 'create',
  update: 'update',
  enable: 'update',
  disable: 'disable',
  delete: 'delete',
  addMembers: 'update',
  removeMembers: 'update',
  replaceMembers: 'update',
  schemaDiscovery: 'other',
  other: 'other',
};

/** Operations that change an object in the app: the ones with an action other than `other`. */
export const writeOperations: readonly OperationKind[] = operationKinds.filter(
  (k) => provisioningActionOf[k] !== 'other',
);

/** Group PATCHes that change members (their failures are not the object's: Entra escrows them apart). */
export const membershipOperations = [
  'addMembers',
  'removeMembers',
  'replaceMembers',
] as const satisfies readonly OperationKind[];

export const operationStatuses = ['success', 'failure', 'warning'] as const;
export type OperationStatus = (typeof operationStatuses)[number];

export const errorCodes = [
  'Unauthorized',
  'InsufficientRights',
  'NotFound',
  'EntryConflict',
  'TooManyRequests',
  'InternalServerError',
  'InvalidSyntax',
  'Timeout',
  'UpstreamUnreachable',
  'ServiceIncompatible',
  'MultipleEntriesInResponse',
  'ScimCompliance',
  'ClientAborted',
  'ClientThrottled',
] as const;
export type ErrorCode = (typeof errorCodes)[number];

/**
 * Errors that say nothing about the object itself (the token, the app or the link is at fault): they neither
 * start nor end an identity's failing streak, and never make it stuck.
 */
export const appWideErrorCodes = [
  'Unauthorized',
  'InsufficientRights',
  'UpstreamUnreachable',
  'Timeout',
  'ClientAborted',
  'ClientThrottled',
  'ScimCompliance',
  'TooManyRequests',
  'ServiceIncompatible',
] as const satisfies readonly ErrorCode[];

/** The Entra-style error code for a failing HTTP answer, before the body is read (ARCHITECTURE §4). */
const errorCodeByStatus: ReadonlyMap<number, ErrorCode> = new Map([
  [401, 'Unauthorized'],
  [403, 'InsufficientRights'],
  [404, 'NotFound'],
  [409, 'EntryConflict'],
  [429, 'TooManyRequests'],
]);

/**
 * HTTP status → errorCode for an answer the app gave: 5xx is the app's fault, any other 4xx a request it
 * refused; a 1xx/3xx or out-of-range status (a redirect to a login page) is not a SCIM service. 502/504 that
 * scimtap answers itself are recorded as UpstreamUnreachable/Timeout, not through this map.
 */
export function errorCodeOfHttpStatus(status: number): ErrorCode {
  const code = errorCodeByStatus.get(status);
  if (code) return code;
  if (status >= 500 && status < 600) return 'InternalServerError';
  if (status >= 400 && status < 500) return 'InvalidSyntax';
  return 'ServiceIncompatible';
}

export const cycleKinds = ['initial', 'incremental', 'testConnection', 'onDemand'] as const;
export type CycleKind = (typeof cycleKinds)[number];
export const cycleStates = ['running', 'completed'] as const;
export type CycleState = (typeof cycleStates)[number];

/** Rule codes (ARCHITECTURE §6): they mirror Entra's quarantine reasons so that an admin can connect the two. */
export const ruleCodes = [
  'credentials',
  'scimCompliance',
  'upstreamUnavailable',
  'escrowProportion',
  'escrowTotal',
  'tooManyDeletes',
  'throttling',
  'slowUpstream',
  'stuckObject',
  'stalled',
  'backoffSuspected',
  'recorderFailing',
  'unrecognisedClients',
] as const;
export type RuleCode = (typeof ruleCodes)[number];

/** `low`: worth seeing on the dashboard, not worth waking anyone (routes take it only when they name it). */
export const severities = ['low', 'warning', 'critical'] as const;
export type Severity = (typeof severities)[number];

/** An incident's lifecycle: pending → firing (after the rule's debounce) → resolved. */
export const incidentStates = ['pending', 'firing', 'resolved'] as const;
export type IncidentState = (typeof incidentStates)[number];

/**
 * Why a notification goes out (STYLE §8), recorded on its outbox row: `acknowledged` is told only to the
 * receivers that track it (PagerDuty), `test` is a test send.
 */
export const notifyEvents = [
  'first',
  'reasonChanged',
  'reminder',
  'resolved',
  'acknowledged',
  'test',
] as const;
export type NotifyEvent = (typeof notifyEvents)[number];

/** An outbox row's delivery: `superseded` when a later message for its incident made it pointless. */
export const outboxStates = ['unsent', 'sending', 'sent', 'failed', 'superseded'] as const;
export type OutboxState = (typeof outboxStates)[number];

/** What `q` searches (store/terms.ts): the distinct values of these operation fields. */
export const searchTermFields = ['identity', 'targetId', 'reason'] as const;
export type SearchTermField = (typeof searchTermFields)[number];

/**
 * One name per field: each operation field the CSV export carries, by the key it is stored under, with the one
 * name the API, the CSV header and the dashboard's types use for it. The CSV's names are the contract
 * (ARCHITECTURE §9, Microsoft Graph's provisioning-log names), so where the stored key is shorter (`time`,
 * `durationMs`) the API says what the CSV says. In CSV column order. (store/queries/export.ts reads each key
 * as a column of `operations`, so a key that is not one does not compile.)
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
} as const;

/** The stored keys whose API and CSV name differs from the key itself. */
export type RenamedKey = {
  [K in keyof typeof operationFieldNames]: (typeof operationFieldNames)[K] extends K ? never : K;
}[keyof typeof operationFieldNames];
