import { describe, expect, it } from 'vitest';
import { classify } from '../../scim/classify.js';
import type { Exchange, OperationKind } from '../../scim/types.js';
import { parsePatchOp } from '../target/patch.js';
import type { UserAttrs } from './directory.js';
import {
  activeBody,
  type Dialect,
  groupCreateBody,
  groupLookupPath,
  groupRenameBody,
  listResources,
  membersBody,
  userCreateBody,
  userFromResource,
  userLookupPath,
  userUpdateBody,
} from './requests.js';

const ada: UserAttrs = {
  userName: 'ada.lovelace.17@contoso.example',
  externalId: '0f8fad5b-d9cb-469f-a165-70867728950e',
  givenName: 'Ada',
  familyName: 'Lovelace',
  displayName: 'Ada Lovelace',
  email: 'ada.lovelace.17@contoso.example',
  department: 'Research',
  jobTitle: 'Analyst',
  active: true,
};

function exchange(method: string, pathAndQuery: string, body?: unknown, status = 200): Exchange {
  const [path, query = ''] = pathAndQuery.split('?');
  const text = body === undefined ? null : Buffer.from(JSON.stringify(body));
  return {
    startedAt: 0,
    durationMs: 1,
    method,
    path: `/scim/v2${path}`,
    query,
    tokenFingerprint: null,
    clientIp: null,
    userAgent: null,
    requestContentType: text ? 'application/scim+json' : null,
    requestBody: text,
    requestBytes: text?.length ?? 0,
    requestTruncated: false,
    httpStatus: status,
    responseContentType: null,
    responseBody: null,
    responseBytes: 0,
    responseTruncated: false,
    failure: null,
    failureDetail: null,
  };
}

const kindOf = (ex: Exchange): OperationKind =>
  classify(ex, { capture: 'full', redact: ['password'] }).operation;

describe.each(['2017', 'flag'] as const)('request shapes in the %s dialect', (dialect: Dialect) => {
  // Each row: a request the simulator sends, and the operation kind it logs it as (scimtap must agree).
  const rows: [string, string, unknown, OperationKind, number][] = [
    [
      'attribute update',
      '/Users/u-1',
      userUpdateBody(dialect, { ...ada, jobTitle: 'Lead', familyName: 'King' }, ['jobTitle', 'familyName']),
      'update',
      200,
    ],
    [
      'email update (filtered path)',
      '/Users/u-1',
      userUpdateBody(dialect, ada, ['email', 'department']),
      'update',
      200,
    ],
    ['disable', '/Users/u-1', activeBody(dialect, false), 'disable', 200],
    ['enable', '/Users/u-1', activeBody(dialect, true), 'enable', 200],
    ['group rename', '/Groups/g-1', groupRenameBody(dialect, 'Finance Approvers'), 'update', 204],
    ['member add', '/Groups/g-1', membersBody(dialect, 'add', ['u-1', 'u-2']), 'addMembers', 204],
    ['member remove', '/Groups/g-1', membersBody(dialect, 'remove', ['u-1', 'u-2']), 'removeMembers', 204],
  ];
  it.each(rows)(
    '%s: classified as the simulator logs it, and accepted by the target',
    (_, path, body, kind, status) => {
      expect(kindOf(exchange('PATCH', path, body, status))).toBe(kind);
      expect(() => parsePatchOp(body)).not.toThrow();
    },
  );
});

describe('request shapes shared by both dialects', () => {
  it.each([
    // the probe: a userName filter for a random GUID
    ['GET', userLookupPath('3f0c1d2e-9b8a-4c7d-8e6f-5a4b3c2d1e0f'), undefined, 'testConnection'],
    ['GET', userLookupPath(ada.userName), undefined, 'lookup'],
    // Entra's group lookup leaves the members out
    ['GET', groupLookupPath('Finance Team'), undefined, 'lookup'],
    ['POST', '/Users', userCreateBody(ada), 'create'],
    ['POST', '/Groups', groupCreateBody({ displayName: 'Finance Team', externalId: 'g-ext' }), 'create'],
    ['DELETE', '/Users/u-1', undefined, 'delete'],
  ] as const)('%s %s → %s', (method, path, body, kind) => {
    expect(kindOf(exchange(method, path, body))).toBe(kind);
  });

  it('quotes filter values and encodes the query', () => {
    expect(userLookupPath('a"b@c')).toBe('/Users?filter=userName%20eq%20%22a%5C%22b%40c%22');
    expect(groupLookupPath('R&D')).toBe(
      '/Groups?excludedAttributes=members&filter=displayName%20eq%20%22R%26D%22',
    );
  });

  it('sends 2017 booleans as "True"/"False" strings and flag booleans as booleans', () => {
    expect(activeBody('2017', false)).toMatchObject({
      Operations: [{ op: 'Replace', path: 'active', value: 'False' }],
    });
    expect(activeBody('flag', false)).toMatchObject({
      Operations: [{ op: 'replace', path: 'active', value: false }],
    });
  });

  it('reads a target user back into the simulator’s terms (round trip of a create body)', () => {
    const created = { ...userCreateBody(ada), id: 'u-1', active: 'True' };
    expect(userFromResource(created)).toEqual(ada);
  });

  it('only accepts a ListResponse as the answer to a filter query', () => {
    expect(
      listResources({ schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'], Resources: [] }),
    ).toEqual([]);
    expect(
      listResources({ schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '404' }),
    ).toBeNull();
    expect(listResources('nope')).toBeNull();
  });
});
