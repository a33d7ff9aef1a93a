import { describe, expect, expectTypeOf, it } from 'vitest';
import type { IncidentState as AlertIncidentState, NotifyEvent as AlertNotifyEvent } from './alerts/types.js';
import type { cycles, identities, incidents, operations, outbox } from './store/schema/index.js';
import {
  appWideErrorCodes,
  type CycleKind,
  type ErrorCode,
  errorCodeOfHttpStatus,
  errorCodes,
  type IdentityType,
  type IncidentState,
  membershipOperations,
  type NotifyEvent,
  type OperationKind,
  type OperationStatus,
  operationKinds,
  type ProvisioningAction,
  provisioningActionOf,
  provisioningActions,
  type RuleCode,
  writeOperations,
} from './vocabulary.js';

describe('operation → provisioningAction', () => {
  it.each([
    // Entra's log names the change: re-enabling and membership PATCHes are updates
    ['create', 'create'],
    ['update', 'update'],
    ['enable', 'update'],
    ['addMembers', 'update'],
    ['removeMembers', 'update'],
    ['replaceMembers', 'update'],
    ['disable', 'disable'],
    ['delete', 'delete'],
    // nothing changes in the app: reads, lookups, probes, discovery
    ['testConnection', 'other'],
    ['lookup', 'other'],
    ['list', 'other'],
    ['read', 'other'],
    ['schemaDiscovery', 'other'],
    ['other', 'other'],
  ] satisfies [OperationKind, ProvisioningAction][])('%s is %s', (operation, action) => {
    expect(provisioningActionOf[operation]).toBe(action);
  });

  it('is total over the operations and onto the actions', () => {
    expect(Object.keys(provisioningActionOf).sort()).toEqual([...operationKinds].sort());
    expect(new Set(Object.values(provisioningActionOf))).toEqual(new Set(provisioningActions));
  });

  it('derives the write operations from it; membership changes are writes', () => {
    expect(writeOperations).toEqual(operationKinds.filter((k) => provisioningActionOf[k] !== 'other'));
    for (const k of membershipOperations) expect(writeOperations).toContain(k);
  });
});

describe('HTTP status → errorCode', () => {
  it.each([
    [401, 'Unauthorized'],
    [403, 'InsufficientRights'],
    [404, 'NotFound'],
    [409, 'EntryConflict'],
    [429, 'TooManyRequests'],
    // any other 4xx is a request the app refused
    [400, 'InvalidSyntax'],
    [422, 'InvalidSyntax'],
    // the app's own failures, 502 and 504 from the app included
    [500, 'InternalServerError'],
    [502, 'InternalServerError'],
    [599, 'InternalServerError'],
    // a redirect to a login page, or no HTTP status at all, is not a SCIM service
    [302, 'ServiceIncompatible'],
    [100, 'ServiceIncompatible'],
    [600, 'ServiceIncompatible'],
  ] satisfies [number, ErrorCode][])('%i is %s', (status, code) => {
    expect(errorCodeOfHttpStatus(status)).toBe(code);
  });

  it('every code it gives, and every app-wide code, is in the vocabulary', () => {
    for (let s = 0; s < 700; s++) expect(errorCodes).toContain(errorCodeOfHttpStatus(s));
    for (const code of appWideErrorCodes) expect(errorCodes).toContain(code);
  });
});

describe('one vocabulary, everywhere', () => {
  it('the schema’s enum columns are typed by it', () => {
    type Op = typeof operations.$inferSelect;
    expectTypeOf<Op['operation']>().toEqualTypeOf<OperationKind>();
    expectTypeOf<Op['provisioningAction']>().toEqualTypeOf<ProvisioningAction>();
    expectTypeOf<Op['status']>().toEqualTypeOf<OperationStatus>();
    expectTypeOf<Op['errorCode']>().toEqualTypeOf<ErrorCode | null>();
    expectTypeOf<Op['identityType']>().toEqualTypeOf<IdentityType | null>();
    expectTypeOf<(typeof cycles.$inferSelect)['kind']>().toEqualTypeOf<CycleKind>();
    expectTypeOf<(typeof identities.$inferSelect)['lastStatus']>().toEqualTypeOf<OperationStatus | null>();
    expectTypeOf<(typeof incidents.$inferSelect)['rule']>().toEqualTypeOf<RuleCode>();
    expectTypeOf<(typeof outbox.$inferSelect)['event']>().toEqualTypeOf<NotifyEvent>();
  });

  it('the incident engine’s own names are the vocabulary’s', () => {
    expectTypeOf<AlertIncidentState>().toEqualTypeOf<IncidentState>();
    expectTypeOf<AlertNotifyEvent>().toEqualTypeOf<NotifyEvent>();
  });
});
