import { describe, expect, it } from 'vitest';
import {
  addMembersBody,
  createGroupBody,
  createUserBody,
  emptyListResponse,
  exchange,
  filterQuery,
  groupResource,
  listResponse,
  PROBE_GUID,
  patch2017Disable,
  patch2017Enable,
  patch2017Update,
  patch2020Disable,
  patch2020Enable,
  patch2020Update,
  patchBody,
  proxyError,
  removeMembers2017Body,
  removeMembers2020Body,
  renameGroupBody,
  SCHEMA_ENTERPRISE,
  scimError,
  userResource,
} from '../../test/fixtures/entra.js';
import { errorCodes, operationKinds } from '../vocabulary.js';
import { classify } from './classify.js';
import { createRedactor } from './redact.js';
import { redactBodyText, scrubText } from './redact-text.js';
import { parseFilter, parseQuery, parseTarget } from './request-line.js';
import type { ClassifyOptions, Exchange, Operation } from './types.js';

const REDACTED_MODE: ClassifyOptions = { capture: 'redacted', redact: ['password'] };

interface Case {
  name: string;
  ex: Exchange;
  options?: ClassifyOptions;
  want: Partial<Operation>;
}

function run(cases: Case[]) {
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    expect(classify(c.ex, c.options ?? REDACTED_MODE)).toMatchObject(c.want);
  });
}

const USERS = '/scim/v2/Users';
const GROUPS = '/scim/v2/Groups';

describe('operation kinds', () => {
  run([
    // Entra's probe: a filter on a random GUID answered by an empty ListResponse, no identity attached
    {
      name: 'testConnection',
      ex: exchange({ query: filterQuery('userName', PROBE_GUID), resBody: emptyListResponse }),
      want: {
        operation: 'testConnection',
        provisioningAction: 'other',
        status: 'success',
        identity: null,
        identityType: null,
      },
    },
    // the GUID rule applies to any attribute, not only userName
    {
      name: 'testConnection on externalId',
      ex: exchange({
        query: filterQuery('externalId', PROBE_GUID.toUpperCase()),
        resBody: emptyListResponse,
      }),
      want: { operation: 'testConnection', externalId: null },
    },
    // a GUID that matches a resource is a real lookup (objectId as matching attribute), not a probe
    {
      name: 'GUID lookup that finds a user',
      ex: exchange({ query: filterQuery('externalId', PROBE_GUID), resBody: listResponse([userResource()]) }),
      want: { operation: 'lookup', externalId: PROBE_GUID, targetId: 'u-1091', identity: 'ada@example.com' },
    },
    // a filtered GET by userName is a lookup; identity comes from the filter, targetId from the single resource
    {
      name: 'lookup user',
      ex: exchange({
        query: filterQuery('userName', 'ada@example.com'),
        resBody: listResponse([userResource()]),
      }),
      want: {
        operation: 'lookup',
        provisioningAction: 'other',
        resourceType: 'User',
        identityType: 'User',
        identity: 'ada@example.com',
        externalId: 'ada',
        targetId: 'u-1091',
        status: 'success',
      },
    },
    // the group lookup Entra sends, with excludedAttributes=members first in the query
    {
      name: 'lookup group',
      ex: exchange({
        path: GROUPS,
        query: filterQuery('displayName', 'Finance', 'excludedAttributes=members'),
        resBody: listResponse([groupResource()]),
      }),
      want: {
        operation: 'lookup',
        resourceType: 'Group',
        identityType: 'Group',
        identity: 'Finance',
        targetId: 'g-42',
      },
    },
    // an unfiltered collection GET is a list with no single identity
    {
      name: 'list',
      ex: exchange({
        query: 'startIndex=1&count=100',
        resBody: listResponse([userResource(), userResource({ id: 'u-2' })]),
      }),
      want: { operation: 'list', identity: null, targetId: null, status: 'success' },
    },
    // GET by id is a read; identity from the returned resource
    {
      name: 'read',
      ex: exchange({ path: `${USERS}/u-1091`, resBody: userResource() }),
      want: { operation: 'read', targetId: 'u-1091', identity: 'ada@example.com', status: 'success' },
    },
    // POST creates; identity from the request body, targetId from the 201 answer
    {
      name: 'create user',
      ex: exchange({ method: 'POST', reqBody: createUserBody(), status: 201, resBody: userResource() }),
      want: {
        operation: 'create',
        provisioningAction: 'create',
        status: 'success',
        identity: 'ada@example.com',
        externalId: 'ada',
        targetId: 'u-1091',
      },
    },
    // a PATCH that sets attributes other than active is an update
    {
      name: 'update user',
      ex: exchange({
        method: 'PATCH',
        path: `${USERS}/u-1091`,
        reqBody: patch2017Update,
        status: 200,
        resBody: userResource(),
      }),
      want: { operation: 'update', provisioningAction: 'update', targetId: 'u-1091' },
    },
    // active true is an enable, which Entra logs as an update
    {
      name: 'enable user',
      ex: exchange({ method: 'PATCH', path: `${USERS}/u-1091`, reqBody: patch2017Enable, status: 204 }),
      want: { operation: 'enable', provisioningAction: 'update' },
    },
    // active "False" is a disable
    {
      name: 'disable user',
      ex: exchange({ method: 'PATCH', path: `${USERS}/u-1091`, reqBody: patch2017Disable, status: 204 }),
      want: { operation: 'disable', provisioningAction: 'disable', status: 'success', targetId: 'u-1091' },
    },
    // DELETE answered 204
    {
      name: 'delete user',
      ex: exchange({ method: 'DELETE', path: `${USERS}/u-1091`, status: 204 }),
      want: {
        operation: 'delete',
        provisioningAction: 'delete',
        status: 'success',
        targetId: 'u-1091',
        identityType: 'User',
      },
    },
    // DELETE answered 200 instead of 204 is still a plain success
    {
      name: 'delete answered 200',
      ex: exchange({ method: 'DELETE', path: `${GROUPS}/g-42`, status: 200 }),
      want: { operation: 'delete', status: 'success', errorCode: null, identityType: 'Group' },
    },
    // members Add by PATCH
    {
      name: 'addMembers',
      ex: exchange({
        method: 'PATCH',
        path: `${GROUPS}/g-42`,
        reqBody: addMembersBody(['u-1', 'u-2']),
        status: 204,
      }),
      want: {
        operation: 'addMembers',
        provisioningAction: 'update',
        members: [{ op: 'add', ids: ['u-1', 'u-2'] }],
      },
    },
    // members Remove by PATCH (value array)
    {
      name: 'removeMembers',
      ex: exchange({
        method: 'PATCH',
        path: `${GROUPS}/g-42`,
        reqBody: removeMembers2017Body(['u-1']),
        status: 204,
      }),
      want: {
        operation: 'removeMembers',
        provisioningAction: 'update',
        members: [{ op: 'remove', ids: ['u-1'] }],
      },
    },
    // members Replace by PATCH
    {
      name: 'replaceMembers',
      ex: exchange({
        method: 'PATCH',
        path: `${GROUPS}/g-42`,
        reqBody: addMembersBody(['u-3'], 'Replace'),
        status: 204,
      }),
      want: {
        operation: 'replaceMembers',
        provisioningAction: 'update',
        members: [{ op: 'replace', ids: ['u-3'] }],
      },
    },
    // /Schemas is discovery (Entra reads it when provisioning settings are opened)
    {
      name: 'schemaDiscovery /Schemas',
      ex: exchange({ path: '/scim/v2/Schemas', resBody: listResponse([]) }),
      want: {
        operation: 'schemaDiscovery',
        resourceType: 'Schema',
        provisioningAction: 'other',
        identityType: null,
      },
    },
    // the plural spelling some apps use is the same resource
    {
      name: 'schemaDiscovery /ServiceProviderConfigs',
      ex: exchange({ path: '/ServiceProviderConfigs', resBody: {} }),
      want: { operation: 'schemaDiscovery', resourceType: 'ServiceProviderConfig' },
    },
    // a single schema by URN is discovery too
    {
      name: 'schemaDiscovery /ResourceTypes/User',
      ex: exchange({ path: '/scim/v2/ResourceTypes/User', resBody: {} }),
      want: { operation: 'schemaDiscovery', resourceType: 'ResourceType' },
    },
    // Bulk is recorded but not interpreted
    {
      name: 'other: Bulk',
      ex: exchange({ method: 'POST', path: '/scim/v2/Bulk', reqBody: { Operations: [] } }),
      want: { operation: 'other', resourceType: 'Bulk', provisioningAction: 'other', identityType: null },
    },
    // a path with no SCIM resource is Other
    {
      name: 'other: unknown path',
      ex: exchange({ path: '/healthz', resBody: 'ok' }),
      want: { operation: 'other', resourceType: 'Other', status: 'success' },
    },
  ]);

  it('covers every operation kind', () => {
    // guard: the table above must keep one case per kind in types.ts
    const seen = new Set<string>();
    const all: Exchange[] = [
      exchange({ query: filterQuery('userName', PROBE_GUID), resBody: emptyListResponse }),
      exchange({ query: filterQuery('userName', 'a'), resBody: emptyListResponse }),
      exchange({ resBody: emptyListResponse }),
      exchange({ path: `${USERS}/u-1`, resBody: userResource() }),
      exchange({ method: 'POST', reqBody: createUserBody(), status: 201, resBody: userResource() }),
      exchange({ method: 'PATCH', path: `${USERS}/u-1`, reqBody: patch2017Update, status: 204 }),
      exchange({ method: 'PATCH', path: `${USERS}/u-1`, reqBody: patch2017Enable, status: 204 }),
      exchange({ method: 'PATCH', path: `${USERS}/u-1`, reqBody: patch2017Disable, status: 204 }),
      exchange({ method: 'DELETE', path: `${USERS}/u-1`, status: 204 }),
      exchange({ method: 'PATCH', path: `${GROUPS}/g`, reqBody: addMembersBody(['u']), status: 204 }),
      exchange({ method: 'PATCH', path: `${GROUPS}/g`, reqBody: removeMembers2020Body(['u']), status: 204 }),
      exchange({
        method: 'PATCH',
        path: `${GROUPS}/g`,
        reqBody: addMembersBody(['u'], 'replace'),
        status: 204,
      }),
      exchange({ path: '/Schemas', resBody: {} }),
      exchange({ method: 'OPTIONS', path: '/' }),
    ];
    for (const ex of all) seen.add(classify(ex, REDACTED_MODE).operation);
    expect([...seen].sort()).toEqual([...operationKinds].sort());
  });
});

describe('PUT, HEAD, OPTIONS and search', () => {
  run([
    // PUT is a full update
    {
      name: 'PUT update',
      ex: exchange({
        method: 'PUT',
        path: `${USERS}/u-1091`,
        reqBody: userResource({ displayName: 'Ada K' }),
        resBody: userResource(),
      }),
      want: {
        operation: 'update',
        provisioningAction: 'update',
        identity: 'ada@example.com',
        targetId: 'u-1091',
      },
    },
    // PUT with active false switches the account off: a disable
    {
      name: 'PUT disable',
      ex: exchange({
        method: 'PUT',
        path: `${USERS}/u-1091`,
        reqBody: userResource({ active: 'false' }),
        resBody: userResource(),
      }),
      want: { operation: 'disable', provisioningAction: 'disable' },
    },
    // PUT with active true stays an update (the brief keeps enable for PATCH)
    {
      name: 'PUT active true',
      ex: exchange({
        method: 'PUT',
        path: `${USERS}/u-1091`,
        reqBody: userResource({ active: true }),
        resBody: userResource(),
      }),
      want: { operation: 'update' },
    },
    // PUT on a group replaces its members: recorded as one replace
    {
      name: 'PUT group members',
      ex: exchange({
        method: 'PUT',
        path: `${GROUPS}/g-42`,
        reqBody: groupResource({ members: [{ value: 'u-1' }, { value: 'u-2' }] }),
        resBody: groupResource(),
      }),
      want: { operation: 'update', identity: 'Finance', members: [{ op: 'replace', ids: ['u-1', 'u-2'] }] },
    },
    // HEAD has no body to judge: recorded as other
    {
      name: 'HEAD',
      ex: exchange({ method: 'HEAD', path: `${USERS}/u-1`, status: 200 }),
      want: { operation: 'other', status: 'success', resourceType: 'User' },
    },
    // OPTIONS (CORS preflight or probe) is other
    {
      name: 'OPTIONS',
      ex: exchange({ method: 'OPTIONS', path: USERS, status: 204 }),
      want: { operation: 'other', status: 'success' },
    },
    // POST .search is a query, with its filter in the body (RFC 7644 §3.4.3)
    {
      name: 'POST .search',
      ex: exchange({
        method: 'POST',
        path: `${USERS}/.search`,
        reqBody: {
          schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'],
          filter: 'userName eq "ada@example.com"',
        },
        resBody: listResponse([userResource()]),
      }),
      want: { operation: 'lookup', identity: 'ada@example.com', targetId: 'u-1091' },
    },
    // a sub-resource path below an id is not a SCIM operation we know
    {
      name: 'sub-resource',
      ex: exchange({ method: 'DELETE', path: `${USERS}/u-1/photos/1`, status: 204 }),
      want: { operation: 'other', resourceType: 'User' },
    },
    // POST to an id is not a create
    {
      name: 'POST to id',
      ex: exchange({ method: 'POST', path: `${USERS}/u-1`, reqBody: {}, status: 405 }),
      want: { operation: 'other', status: 'failure', errorCode: 'InvalidSyntax' },
    },
    // DELETE on the collection is not a delete
    {
      name: 'DELETE collection',
      ex: exchange({ method: 'DELETE', path: USERS, status: 405 }),
      want: { operation: 'other' },
    },
    // lower-case method names are understood
    {
      name: 'lower-case method',
      ex: exchange({ method: 'delete', path: `${USERS}/u-1`, status: 204 }),
      want: { operation: 'delete', httpMethod: 'delete' },
    },
  ]);
});

describe('error codes and statuses', () => {
  run([
    // a refused upstream is scimtap's 502, with the proxy's own detail as reason
    {
      name: 'UpstreamUnreachable',
      ex: exchange({
        status: 502,
        resBody: proxyError(502, 'upstream unreachable: ECONNREFUSED'),
        failure: 'UpstreamUnreachable',
        failureDetail: 'connect ECONNREFUSED 10.0.0.5:443',
      }),
      want: {
        status: 'failure',
        errorCode: 'UpstreamUnreachable',
        reason: 'scimtap: upstream unreachable: ECONNREFUSED',
      },
    },
    // without a body the failureDetail is the reason
    {
      name: 'Timeout',
      ex: exchange({
        method: 'DELETE',
        path: `${USERS}/u-1`,
        status: 504,
        failure: 'Timeout',
        failureDetail: 'no answer in 60000 ms',
      }),
      want: { status: 'failure', errorCode: 'Timeout', reason: 'no answer in 60000 ms', operation: 'delete' },
    },
    // the client left before the answer
    {
      name: 'ClientAborted',
      ex: exchange({
        method: 'PATCH',
        path: `${USERS}/u-1`,
        reqBody: patch2017Update,
        status: null,
        failure: 'ClientAborted',
      }),
      want: {
        status: 'failure',
        errorCode: 'ClientAborted',
        reason: 'the client closed the connection before the answer',
        httpStatus: null,
      },
    },
    // scimtap's own 429 to a client over its share: its own code, not the app's TooManyRequests
    {
      name: 'ClientThrottled',
      ex: exchange({
        method: 'POST',
        path: USERS,
        status: 429,
        resBody: proxyError(429, 'too many concurrent requests from this client: 64 in use'),
        failure: 'ClientThrottled',
        failureDetail: '64 in use',
      }),
      want: {
        status: 'failure',
        errorCode: 'ClientThrottled',
        reason: 'scimtap: too many concurrent requests from this client: 64 in use',
        httpStatus: 429,
      },
    },
    // a slow body cut off by scimtap's body deadline (408) counts as the client's doing
    {
      name: 'body deadline',
      ex: exchange({
        method: 'POST',
        path: USERS,
        status: 408,
        resBody: proxyError(408, 'request body timeout: not within 30000 ms'),
        failure: 'ClientAborted',
      }),
      want: { status: 'failure', errorCode: 'ClientAborted', httpStatus: 408 },
    },
    // no status and no failure recorded is still a client abort
    {
      name: 'null status',
      ex: exchange({ status: null }),
      want: { status: 'failure', errorCode: 'ClientAborted' },
    },
    // a wrong token: 401, detail from the SCIM error body
    {
      name: 'Unauthorized',
      ex: exchange({
        query: filterQuery('userName', PROBE_GUID),
        status: 401,
        resBody: scimError(401, 'Invalid token'),
      }),
      want: {
        operation: 'testConnection',
        status: 'failure',
        errorCode: 'Unauthorized',
        reason: 'Invalid token',
      },
    },
    // 403 with no body gets a short default reason
    {
      name: 'InsufficientRights',
      ex: exchange({ method: 'POST', reqBody: createUserBody(), status: 403 }),
      want: { status: 'failure', errorCode: 'InsufficientRights', reason: 'HTTP 403', scimType: null },
    },
    // 404 to a read is NotFound
    {
      name: 'NotFound',
      ex: exchange({ path: `${USERS}/u-9`, status: 404, resBody: scimError(404, 'Resource u-9 not found') }),
      want: { status: 'failure', errorCode: 'NotFound', reason: 'Resource u-9 not found' },
    },
    // 404 to a filter query is a SCIM compliance failure (Entra quarantines on it)
    {
      name: 'ScimCompliance 404',
      ex: exchange({ query: filterQuery('userName', PROBE_GUID), status: 404 }),
      want: {
        operation: 'testConnection',
        status: 'failure',
        errorCode: 'ScimCompliance',
        reason: 'HTTP 404 to a filter query',
      },
    },
    // a 200 to a filter query that is a bare resource, not a ListResponse
    {
      name: 'ScimCompliance non-ListResponse',
      ex: exchange({ query: filterQuery('userName', 'ada@example.com'), resBody: userResource() }),
      want: { operation: 'lookup', status: 'failure', errorCode: 'ScimCompliance' },
    },
    // a 200 with an HTML page to a filter query
    {
      name: 'ScimCompliance unparseable',
      ex: exchange({
        query: filterQuery('userName', 'ada@example.com'),
        resBody: '<html>login</html>',
        responseContentType: 'text/html',
      }),
      want: { status: 'failure', errorCode: 'ScimCompliance' },
    },
    // an empty 200 to a filter query
    {
      name: 'ScimCompliance empty',
      ex: exchange({ query: filterQuery('userName', PROBE_GUID) }),
      want: { status: 'failure', errorCode: 'ScimCompliance' },
    },
    // 409 with scimType uniqueness, as Entra quotes it
    {
      name: 'EntryConflict',
      ex: exchange({
        method: 'POST',
        reqBody: createUserBody(),
        status: 409,
        resBody: scimError(409, 'User already exists', 'uniqueness'),
      }),
      want: {
        status: 'failure',
        errorCode: 'EntryConflict',
        scimType: 'uniqueness',
        reason: 'User already exists',
        identity: 'ada@example.com',
        targetId: null,
      },
    },
    // 429 throttling
    {
      name: 'TooManyRequests',
      ex: exchange({ method: 'PATCH', path: `${USERS}/u-1`, reqBody: patch2017Update, status: 429 }),
      want: { status: 'failure', errorCode: 'TooManyRequests', reason: 'HTTP 429' },
    },
    // any 5xx from the app
    {
      name: 'InternalServerError',
      ex: exchange({
        method: 'POST',
        reqBody: createUserBody(),
        status: 503,
        resBody: 'Service Unavailable',
      }),
      want: { status: 'failure', errorCode: 'InternalServerError', reason: 'HTTP 503' },
    },
    // 400 with scimType invalidValue
    {
      name: 'InvalidSyntax',
      ex: exchange({
        method: 'PATCH',
        path: `${USERS}/u-1`,
        reqBody: patch2017Update,
        status: 400,
        resBody: scimError(400, 'Attribute emails is immutable', 'mutability'),
      }),
      want: { status: 'failure', errorCode: 'InvalidSyntax', scimType: 'mutability' },
    },
    // other 4xx (here 422) map to InvalidSyntax too
    {
      name: 'InvalidSyntax 422',
      ex: exchange({ method: 'POST', reqBody: createUserBody(), status: 422 }),
      want: { errorCode: 'InvalidSyntax', reason: 'HTTP 422' },
    },
    // a 201 whose body is not JSON: Entra cannot read the new id
    {
      name: 'ServiceIncompatible create',
      ex: exchange({ method: 'POST', reqBody: createUserBody(), status: 201, resBody: 'Created' }),
      want: { status: 'failure', errorCode: 'ServiceIncompatible' },
    },
    // a 204 to a create has no resource at all
    {
      name: 'ServiceIncompatible empty create',
      ex: exchange({ method: 'POST', reqBody: createUserBody(), status: 204 }),
      want: { status: 'failure', errorCode: 'ServiceIncompatible' },
    },
    // a read answered with a JSON array is not a SCIM resource
    {
      name: 'ServiceIncompatible read',
      ex: exchange({ path: `${USERS}/u-1`, resBody: [1, 2] }),
      want: { status: 'failure', errorCode: 'ServiceIncompatible' },
    },
    // a redirect (e.g. to a login page) is not a SCIM answer
    {
      name: 'ServiceIncompatible 302',
      ex: exchange({ path: `${USERS}/u-1`, status: 302 }),
      want: { status: 'failure', errorCode: 'ServiceIncompatible', reason: 'HTTP 302' },
    },
    // a truncated copy of a 201 is no evidence of a bad body
    {
      name: 'truncated response is not ServiceIncompatible',
      ex: exchange({
        method: 'POST',
        reqBody: createUserBody(),
        status: 201,
        resBody: userResource(),
        resTruncateAt: 30,
      }),
      want: { status: 'success', errorCode: null },
    },
    // a body that was not captured (capture none) is not judged
    {
      name: 'uncaptured response is not judged',
      ex: {
        ...exchange({ query: filterQuery('userName', 'a'), resBody: emptyListResponse }),
        responseBody: null,
      },
      options: { capture: 'none', redact: ['password'] },
      want: { status: 'success', responseBody: null },
    },
    // the group lookup asked for no members and got them
    {
      name: 'MultipleEntriesInResponse members',
      ex: exchange({
        path: GROUPS,
        query: filterQuery('displayName', 'Finance', 'excludedAttributes=members'),
        resBody: listResponse([groupResource({ members: [{ value: 'u-1' }] })]),
      }),
      want: {
        operation: 'lookup',
        status: 'failure',
        errorCode: 'MultipleEntriesInResponse',
        identity: 'Finance',
      },
    },
    // without excludedAttributes, members in the answer are fine
    {
      name: 'members allowed without excludedAttributes',
      ex: exchange({
        path: GROUPS,
        query: filterQuery('displayName', 'Finance'),
        resBody: listResponse([groupResource({ members: [] })]),
      }),
      want: { status: 'success' },
    },
    // two users for one userName
    {
      name: 'MultipleEntriesInResponse two resources',
      ex: exchange({
        query: filterQuery('userName', 'ada@example.com'),
        resBody: listResponse([userResource(), userResource({ id: 'u-2' })]),
      }),
      want: {
        status: 'failure',
        errorCode: 'MultipleEntriesInResponse',
        identity: 'ada@example.com',
        targetId: null,
      },
    },
    // a create answered 200 instead of 201 is accepted but not compliant
    {
      name: 'warning: POST 200',
      ex: exchange({ method: 'POST', reqBody: createUserBody(), status: 200, resBody: userResource() }),
      want: {
        status: 'warning',
        errorCode: null,
        reason: 'POST create answered 200 instead of 201',
        targetId: 'u-1091',
      },
    },
    // a ListResponse with no Resources and totalResults 0 is valid (RFC 7644 §3.4.2)
    {
      name: 'ListResponse without Resources',
      ex: exchange({
        query: filterQuery('userName', 'x'),
        resBody: { schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'], totalResults: 0 },
      }),
      want: { status: 'success' },
    },
    // SCIM 1.1 error bodies still give a reason
    {
      name: 'SCIM 1.1 Errors array',
      ex: exchange({
        method: 'POST',
        reqBody: createUserBody(),
        status: 409,
        resBody: { Errors: [{ description: 'dup', code: '409' }] },
      }),
      want: { errorCode: 'EntryConflict', reason: 'dup' },
    },
  ]);

  it('produces every error code', () => {
    // guard: each code in types.ts is reachable
    const exs: Exchange[] = [
      exchange({ status: 401 }),
      exchange({ status: 403 }),
      exchange({ path: `${USERS}/x`, status: 404 }),
      exchange({ status: 409 }),
      exchange({ status: 429 }),
      exchange({ status: 500 }),
      exchange({ status: 400 }),
      exchange({ status: 504, failure: 'Timeout' }),
      exchange({ status: 502, failure: 'UpstreamUnreachable' }),
      exchange({ path: `${USERS}/x`, resBody: 'nope' }),
      exchange({
        query: filterQuery('userName', 'a'),
        resBody: listResponse([userResource(), userResource()]),
      }),
      exchange({ query: filterQuery('userName', 'a'), status: 404 }),
      exchange({ status: null, failure: 'ClientAborted' }),
      exchange({ status: 429, failure: 'ClientThrottled' }),
    ];
    const codes = exs.map((e) => classify(e, REDACTED_MODE).errorCode);
    expect([...new Set(codes)].sort()).toEqual([...errorCodes].sort());
  });
});

describe('PATCH dialects', () => {
  run([
    // 2017 dialect: capitalised ops, one op per attribute, filter and URN paths kept verbatim
    {
      name: '2017 update',
      ex: exchange({ method: 'PATCH', path: `${USERS}/u-1`, reqBody: patch2017Update, status: 204 }),
      want: {
        operation: 'update',
        modifiedProperties: [
          { name: 'displayName', value: 'Ada King' },
          { name: 'emails[type eq "work"].value', value: 'ada.king@example.com' },
          { name: 'name.familyName', value: 'King' },
          { name: `${SCHEMA_ENTERPRISE}:employeeNumber`, value: '1816' },
        ],
      },
    },
    // 2017 dialect: "False" string is a disable, value kept as sent
    {
      name: '2017 disable',
      ex: exchange({ method: 'PATCH', path: `${USERS}/u-1`, reqBody: patch2017Disable, status: 204 }),
      want: { operation: 'disable', modifiedProperties: [{ name: 'active', value: 'False' }] },
    },
    // 2020 dialect: a path-less object; each key (dotted ones too) is a property
    {
      name: '2020 update',
      ex: exchange({
        method: 'PATCH',
        path: `${USERS}/u-1`,
        reqBody: patch2020Update,
        status: 200,
        resBody: userResource(),
      }),
      want: {
        operation: 'update',
        identity: 'ada@example.com',
        modifiedProperties: [
          { name: 'displayName', value: 'Ada King' },
          { name: 'name.givenName', value: 'Ada' },
          { name: 'name.familyName', value: 'King' },
        ],
      },
    },
    // 2020 dialect: path-less {active:false} is a disable
    {
      name: '2020 disable',
      ex: exchange({ method: 'PATCH', path: `${USERS}/u-1`, reqBody: patch2020Disable, status: 204 }),
      want: { operation: 'disable', modifiedProperties: [{ name: 'active', value: 'false' }] },
    },
    // 2020 dialect: boolean true on path active is an enable
    {
      name: '2020 enable',
      ex: exchange({ method: 'PATCH', path: `${USERS}/u-1`, reqBody: patch2020Enable, status: 204 }),
      want: { operation: 'enable' },
    },
    // ops in odd case and active with a URN path still count
    {
      name: 'odd case op and URN active',
      ex: exchange({
        method: 'PATCH',
        path: `${USERS}/u-1`,
        reqBody: patchBody([
          { OP: 'REPLACE', Path: 'urn:ietf:params:scim:schemas:core:2.0:User:active', Value: 'FALSE' },
        ]),
        status: 204,
      }),
      want: { operation: 'disable' },
    },
    // a PATCH that renames and disables is a disable: active is what Entra's log reports
    {
      name: 'disable wins over other attributes',
      ex: exchange({
        method: 'PATCH',
        path: `${USERS}/u-1`,
        reqBody: patchBody([
          { op: 'Replace', path: 'displayName', value: 'Gone' },
          { op: 'Replace', path: 'active', value: false },
        ]),
        status: 204,
      }),
      want: { operation: 'disable' },
    },
    // a PATCH that sets userName gives the identity
    {
      name: 'PATCH userName identity',
      ex: exchange({
        method: 'PATCH',
        path: `${USERS}/u-1`,
        reqBody: patchBody([{ op: 'replace', value: { userName: 'ada.k@example.com', externalId: 'adak' } }]),
        status: 204,
      }),
      want: { identity: 'ada.k@example.com', externalId: 'adak', targetId: 'u-1' },
    },
    // a complex value on a path is flattened one level
    {
      name: 'complex value on path',
      ex: exchange({
        method: 'PATCH',
        path: `${USERS}/u-1`,
        reqBody: patchBody([{ op: 'replace', path: 'name', value: { givenName: 'A', familyName: 'K' } }]),
        status: 204,
      }),
      want: {
        modifiedProperties: [
          { name: 'name.givenName', value: 'A' },
          { name: 'name.familyName', value: 'K' },
        ],
      },
    },
    // a remove without value records the property with an empty value
    {
      name: 'remove attribute',
      ex: exchange({
        method: 'PATCH',
        path: `${USERS}/u-1`,
        reqBody: patchBody([{ op: 'Remove', path: 'manager' }]),
        status: 204,
      }),
      want: { operation: 'update', modifiedProperties: [{ name: 'manager', value: '' }] },
    },
    // 2017 member removal: path members with a value array
    {
      name: '2017 removeMembers',
      ex: exchange({
        method: 'PATCH',
        path: `${GROUPS}/g-42`,
        reqBody: removeMembers2017Body(['u-1', 'u-2']),
        status: 204,
      }),
      want: {
        operation: 'removeMembers',
        members: [{ op: 'remove', ids: ['u-1', 'u-2'] }],
        modifiedProperties: [{ name: 'members', value: '[{"value":"u-1"},{"value":"u-2"}]' }],
      },
    },
    // 2020 member removal: one members[value eq "..."] path per member, merged into one change
    {
      name: '2020 removeMembers',
      ex: exchange({
        method: 'PATCH',
        path: `${GROUPS}/g-42`,
        reqBody: removeMembers2020Body(['u-1', 'u-2']),
        status: 204,
      }),
      want: { operation: 'removeMembers', members: [{ op: 'remove', ids: ['u-1', 'u-2'] }] },
    },
    // mixed kinds: the first op names the operation, all are recorded
    {
      name: 'mixed member ops',
      ex: exchange({
        method: 'PATCH',
        path: `${GROUPS}/g-42`,
        reqBody: patchBody([
          { op: 'Remove', path: 'members', value: [{ value: 'u-1' }] },
          { op: 'Add', path: 'members', value: [{ value: 'u-2' }] },
          { op: 'remove', path: 'members[value eq "u-3"]' },
        ]),
        status: 204,
      }),
      want: {
        operation: 'removeMembers',
        members: [
          { op: 'remove', ids: ['u-1', 'u-3'] },
          { op: 'add', ids: ['u-2'] },
        ],
      },
    },
    // path-less {members:[...]} counts as a members op
    {
      name: 'path-less members',
      ex: exchange({
        method: 'PATCH',
        path: `${GROUPS}/g-42`,
        reqBody: patchBody([{ op: 'add', value: { members: [{ value: 'u-9' }] } }]),
        status: 204,
      }),
      want: { operation: 'addMembers', members: [{ op: 'add', ids: ['u-9'] }] },
    },
    // a rename is a group update
    {
      name: 'group rename',
      ex: exchange({ method: 'PATCH', path: `${GROUPS}/g-42`, reqBody: renameGroupBody, status: 204 }),
      want: { operation: 'update', identity: 'Finance EMEA', members: [] },
    },
    // rename plus members is an update that still records the members
    {
      name: 'group rename with members',
      ex: exchange({
        method: 'PATCH',
        path: `${GROUPS}/g-42`,
        reqBody: patchBody([
          { op: 'Add', path: 'members', value: [{ value: 'u-1' }] },
          { op: 'Replace', path: 'displayName', value: 'Fin' },
        ]),
        status: 204,
      }),
      want: { operation: 'update', members: [{ op: 'add', ids: ['u-1'] }] },
    },
    // a group PATCH with no Operations array is an update, not a crash
    {
      name: 'PATCH without Operations',
      ex: exchange({ method: 'PATCH', path: `${GROUPS}/g-42`, reqBody: { schemas: [] }, status: 204 }),
      want: { operation: 'update', members: [], modifiedProperties: [] },
    },
    // group create records its initial members as an add
    {
      name: 'group create',
      ex: exchange({
        method: 'POST',
        path: GROUPS,
        reqBody: createGroupBody({ members: [{ value: 'u-1' }] }),
        status: 201,
        resBody: groupResource(),
      }),
      want: {
        operation: 'create',
        identityType: 'Group',
        identity: 'Finance',
        externalId: 'finance',
        targetId: 'g-42',
        members: [{ op: 'add', ids: ['u-1'] }],
      },
    },
    // Entra's own group create has no members, so no member change
    {
      name: 'group create without members',
      ex: exchange({
        method: 'POST',
        path: GROUPS,
        reqBody: createGroupBody(),
        status: 201,
        resBody: groupResource(),
      }),
      want: {
        members: [],
        modifiedProperties: [
          { name: 'externalId', value: 'finance' },
          { name: 'displayName', value: 'Finance' },
          { name: 'members', value: '[]' },
        ],
      },
    },
  ]);
});

describe('modified properties of a create', () => {
  it('flattens complex attributes one level and keeps arrays as JSON', () => {
    // schemas is not a property; name.* and the enterprise URN are flattened; emails stays JSON text
    const op = classify(
      exchange({ method: 'POST', reqBody: createUserBody(), status: 201, resBody: userResource() }),
      REDACTED_MODE,
    );
    expect(op.modifiedProperties).toEqual([
      { name: 'externalId', value: 'ada' },
      { name: 'userName', value: 'ada@example.com' },
      { name: 'active', value: 'true' },
      { name: 'displayName', value: 'Ada Lovelace' },
      { name: 'emails', value: '[{"primary":true,"type":"work","value":"ada@example.com"}]' },
      { name: 'name.formatted', value: 'Ada Lovelace' },
      { name: 'name.familyName', value: 'Lovelace' },
      { name: 'name.givenName', value: 'Ada' },
      { name: `${SCHEMA_ENTERPRISE}:employeeNumber`, value: '1815' },
      { name: `${SCHEMA_ENTERPRISE}:department`, value: 'Analytics' },
    ]);
  });
});

const SECRET = 'Tr0ub4dor&3-secret';
const NONE: ClassifyOptions = { capture: 'none', redact: ['password'] };
const FULL: ClassifyOptions = { capture: 'full', redact: ['password'] };

describe('redaction', () => {
  const cases: Array<{ name: string; ex: Exchange; options?: ClassifyOptions }> = [
    // POST with a top-level password
    {
      name: 'create body',
      ex: exchange({
        method: 'POST',
        reqBody: createUserBody({ password: SECRET }),
        status: 201,
        resBody: userResource(),
      }),
    },
    // key case does not matter
    {
      name: 'Password key',
      ex: exchange({
        method: 'POST',
        reqBody: createUserBody({ PassWord: SECRET }),
        status: 201,
        resBody: userResource(),
      }),
    },
    // 2017 PATCH: path password with a value
    {
      name: '2017 patch path',
      ex: exchange({
        method: 'PATCH',
        path: `${USERS}/u-1`,
        reqBody: patchBody([{ op: 'Replace', path: 'password', value: SECRET }]),
        status: 204,
      }),
    },
    // value before path in the op object
    {
      name: 'value before path',
      ex: exchange({
        method: 'PATCH',
        path: `${USERS}/u-1`,
        reqBody: patchBody([{ value: SECRET, op: 'replace', path: 'password' }]),
        status: 204,
      }),
    },
    // 2020 PATCH: path-less object with a password key
    {
      name: '2020 path-less',
      ex: exchange({
        method: 'PATCH',
        path: `${USERS}/u-1`,
        reqBody: patchBody([{ op: 'replace', value: { password: SECRET, displayName: 'A' } }]),
        status: 204,
      }),
    },
    // URN-qualified password path
    {
      name: 'URN path',
      ex: exchange({
        method: 'PATCH',
        path: `${USERS}/u-1`,
        reqBody: patchBody([
          { op: 'replace', path: 'urn:ietf:params:scim:schemas:core:2.0:User:password', value: SECRET },
        ]),
        status: 204,
      }),
    },
    // nested inside an extension object
    {
      name: 'nested',
      ex: exchange({
        method: 'POST',
        reqBody: createUserBody({ [SCHEMA_ENTERPRISE]: { password: SECRET } }),
        status: 201,
        resBody: userResource(),
      }),
    },
    // an app that echoes the password in its answer
    {
      name: 'response echo',
      ex: exchange({
        method: 'POST',
        reqBody: createUserBody(),
        status: 201,
        resBody: userResource({ password: SECRET }),
      }),
    },
    // capture none keeps modifiedProperties but hides the secret there too
    {
      name: 'capture none',
      ex: exchange({
        method: 'POST',
        reqBody: createUserBody({ password: SECRET }),
        status: 201,
        resBody: userResource(),
      }),
      options: NONE,
    },
  ];
  it.each(cases.map((c) => [c.name, c] as const))('never stores the password: %s', (_n, c) => {
    const text = JSON.stringify(classify(c.ex, c.options ?? REDACTED_MODE));
    expect(text).not.toContain(SECRET);
  });

  // a body cut at every byte (capture limit): the tolerant scanner hides the secret each time
  it.each([
    ['2017 path op', patchBody([{ op: 'Replace', path: 'password', value: SECRET }])],
    ['value before path', patchBody([{ value: SECRET, op: 'replace', path: 'password' }])],
    ['2020 path-less', patchBody([{ op: 'replace', value: { password: SECRET } }])],
    ['create body', createUserBody({ password: SECRET })],
  ] as const)('never stores the password of a truncated body: %s', (_n, body) => {
    const full = JSON.stringify(body);
    for (let at = 1; at < full.length; at++) {
      const ex = exchange({
        method: 'PATCH',
        path: `${USERS}/u-1`,
        reqBody: full,
        reqTruncateAt: at,
        status: 204,
      });
      const text = JSON.stringify(classify(ex, REDACTED_MODE));
      // no 6-character prefix of the secret survives a cut either
      expect(text, `cut at ${at}`).not.toContain(SECRET.slice(0, 6));
    }
  });

  it('marks the redacted property and keeps the rest', () => {
    // redacted: true and [redacted] for password; other properties untouched; body re-serialized
    const op = classify(
      exchange({
        method: 'POST',
        reqBody: createUserBody({ password: SECRET }),
        status: 201,
        resBody: userResource(),
      }),
      REDACTED_MODE,
    );
    expect(op.modifiedProperties).toContainEqual({ name: 'password', value: '[redacted]', redacted: true });
    expect(op.modifiedProperties).toContainEqual({ name: 'userName', value: 'ada@example.com' });
    expect(JSON.parse(op.requestBody ?? '').password).toBe('[redacted]');
  });

  it('keeps a body with no secret byte for byte', () => {
    // nothing to hide: the stored text is the captured text, formatting included
    const raw = '{ "schemas": ["x"],\n  "userName": "ada" }';
    const op = classify(
      exchange({ method: 'POST', reqBody: raw, status: 201, resBody: userResource() }),
      REDACTED_MODE,
    );
    expect(op.requestBody).toBe(raw);
  });

  it('keeps everything with capture full', () => {
    // full capture stores secrets on purpose, no redacted marker
    const op = classify(
      exchange({
        method: 'POST',
        reqBody: createUserBody({ password: SECRET }),
        status: 201,
        resBody: userResource(),
      }),
      FULL,
    );
    expect(op.requestBody).toContain(SECRET);
    expect(op.modifiedProperties).toContainEqual({ name: 'password', value: SECRET });
  });

  it('stores no bodies with capture none', () => {
    // none: bodies null, classification still uses them
    const op = classify(
      exchange({ method: 'POST', reqBody: createUserBody(), status: 201, resBody: userResource() }),
      NONE,
    );
    expect(op).toMatchObject({
      requestBody: null,
      responseBody: null,
      identity: 'ada@example.com',
      targetId: 'u-1091',
    });
  });

  it('honours a custom redact list', () => {
    // any attribute can be listed; matching is case-insensitive and at any depth
    const op = classify(
      exchange({
        method: 'POST',
        reqBody: createUserBody({ [SCHEMA_ENTERPRISE]: { employeeNumber: '1815' } }),
        status: 201,
        resBody: userResource(),
      }),
      { capture: 'redacted', redact: ['EmployeeNumber'] },
    );
    expect(op.requestBody).not.toContain('1815');
    expect(op.modifiedProperties).toContainEqual({
      name: `${SCHEMA_ENTERPRISE}:employeeNumber`,
      value: '[redacted]',
      redacted: true,
    });
  });

  it('does not treat a filter value as a secret name', () => {
    // emails[type eq "password"] names the emails attribute, not a password
    const isRedacted = createRedactor(['password']);
    expect(isRedacted('emails[type eq "password"].value')).toBe(false);
    expect(isRedacted('urn:ietf:params:scim:schemas:core:2.0:User:password')).toBe(true);
  });

  it('drops a non-JSON body that names a secret', () => {
    // a form or plain-text body cannot be scrubbed reliably
    expect(redactBodyText(`password=${SECRET}&user=ada`, createRedactor(['password']))).not.toContain(SECRET);
    expect(redactBodyText('plain words', createRedactor(['password']))).toBe('plain words');
  });

  it('scrubs a secret in an error detail', () => {
    // an app that quotes the rejected attribute in its detail
    const op = classify(
      exchange({
        method: 'POST',
        reqBody: createUserBody(),
        status: 400,
        resBody: scimError(400, `bad "password": "${SECRET}"`),
      }),
      REDACTED_MODE,
    );
    expect(op.reason).not.toContain(SECRET);
  });

  it('scrubs nested and unterminated values without a parse', () => {
    // the scanner hides whole containers under a redacted key, even when cut
    const r = createRedactor(['password']);
    expect(scrubText(`{"password":{"a":["${SECRET}"`, r)).not.toContain(SECRET);
    expect(scrubText(`{"a":1,"password" "${SECRET}"}`, r)).not.toContain(SECRET);
  });
});

describe('bad input', () => {
  run([
    // invalid JSON body on a PATCH: an update with nothing parsed
    {
      name: 'bad JSON',
      ex: exchange({ method: 'PATCH', path: `${USERS}/u-1`, reqBody: '{"Operations": [', status: 204 }),
      want: { operation: 'update', modifiedProperties: [], status: 'success' },
    },
    // non-UTF-8 bytes are decoded with replacement characters, not thrown on
    {
      name: 'non-UTF-8',
      ex: exchange({ method: 'POST', reqBody: Buffer.from([0xff, 0xfe, 0x7b, 0xc3, 0x28]), status: 400 }),
      want: { operation: 'create', errorCode: 'InvalidSyntax' },
    },
    // a malformed percent escape in the query keeps the raw text
    {
      name: '%ZZ in filter',
      ex: exchange({ query: 'filter=userName%20eq%20%22a%ZZb%22', resBody: emptyListResponse }),
      want: { operation: 'lookup', identity: 'a%ZZb' },
    },
    // + in a query is a space; %2B is a plus
    {
      name: 'plus in query',
      ex: exchange({
        query: 'filter=userName+eq+%22ada%2Btest%40example.com%22',
        resBody: emptyListResponse,
      }),
      want: { operation: 'lookup', identity: 'ada+test@example.com' },
    },
    // a repeated filter parameter: the first one counts
    {
      name: 'repeated filter',
      ex: exchange({
        query: `${filterQuery('userName', 'first')}&${filterQuery('userName', 'second')}`,
        resBody: emptyListResponse,
      }),
      want: { identity: 'first' },
    },
    // an empty filter is a list
    {
      name: 'empty filter',
      ex: exchange({ query: 'filter=', resBody: emptyListResponse }),
      want: { operation: 'list' },
    },
    // an unparseable filter is still a lookup, without identity
    {
      name: 'junk filter',
      ex: exchange({ query: 'filter=((((', resBody: emptyListResponse }),
      want: { operation: 'lookup', identity: null },
    },
    // an escaped quote inside the filter value
    {
      name: 'escaped quote in filter',
      ex: exchange({
        query: `filter=${encodeURIComponent('userName eq "o\\"neil"')}`,
        resBody: emptyListResponse,
      }),
      want: { identity: 'o"neil' },
    },
    // a percent-encoded id in the path is decoded; a broken one is kept
    {
      name: 'encoded id',
      ex: exchange({ method: 'DELETE', path: '/Users/ada%40example.com', status: 204 }),
      want: { targetId: 'ada@example.com', operation: 'delete' },
    },
    {
      // broken escape in the id stays raw
      name: 'broken id escape',
      ex: exchange({ method: 'DELETE', path: '/Users/a%E0%A4%A', status: 204 }),
      want: { targetId: 'a%E0%A4%A' },
    },
    // resource matching is case-insensitive and takes the last resource segment
    {
      name: 'base path and case',
      ex: exchange({ method: 'DELETE', path: '/tenant/Groups/scim/v2/USERS/u-1', status: 204 }),
      want: { resourceType: 'User', targetId: 'u-1' },
    },
    // dot segments and a prototype name are just segments
    {
      name: 'junk path',
      ex: exchange({ path: '/../constructor/__proto__/%', status: 404 }),
      want: { resourceType: 'Other', operation: 'other', errorCode: 'NotFound' },
    },
    // a JSON body that is a string, not an object: identity falls back to the answer
    {
      name: 'JSON scalar body',
      ex: exchange({ method: 'POST', reqBody: '"hello"', status: 201, resBody: userResource() }),
      want: { operation: 'create', identity: 'ada@example.com', targetId: 'u-1091', modifiedProperties: [] },
    },
    // a __proto__ key in a body stays data
    {
      name: '__proto__ key',
      ex: exchange({
        method: 'POST',
        reqBody: '{"__proto__":{"password":"x"},"userName":"a"}',
        status: 201,
        resBody: userResource(),
      }),
      want: { identity: 'a' },
    },
    // Operations with non-object entries are skipped
    {
      name: 'junk ops',
      ex: exchange({
        method: 'PATCH',
        path: `${GROUPS}/g`,
        reqBody: patchBody([null, 3, 'x', { op: 7 }, { op: 'add', path: 'members', value: 'u-1' }]),
        status: 204,
      }),
      want: { operation: 'update', members: [{ op: 'add', ids: ['u-1'] }] },
    },
    // a status out of HTTP's range
    {
      name: 'status 999',
      ex: exchange({ status: 999 }),
      want: { status: 'failure', errorCode: 'ServiceIncompatible' },
    },
    // a very deep body neither throws nor overflows
    {
      name: 'deep body',
      ex: exchange({
        method: 'POST',
        reqBody: `${'['.repeat(5000)}${']'.repeat(5000)}`,
        status: 201,
        resBody: userResource(),
      }),
      want: { operation: 'create' },
    },
  ]);

  it('never throws on a broken exchange object', () => {
    // missing fields and wrong types fall back to an `other` operation
    const broken = { method: 7, path: null, query: undefined, httpStatus: 'x' } as unknown as Exchange;
    const op = classify(broken, REDACTED_MODE);
    expect(operationKinds).toContain(op.operation);
    const hostile = new Proxy(
      {},
      {
        get: () => {
          throw new Error('boom');
        },
      },
    ) as unknown as Exchange;
    expect(classify(hostile, REDACTED_MODE)).toMatchObject({ operation: 'other', requestBody: null });
  });
});

describe('parsers', () => {
  it('parses Entra filters', () => {
    // the attr eq "value" form, pr, bare values, and junk
    expect(parseFilter('userName eq "ada@example.com"')).toEqual({
      attribute: 'userName',
      op: 'eq',
      value: 'ada@example.com',
    });
    expect(parseFilter('externalId EQ "x" and active eq true')).toEqual({
      attribute: 'externalId',
      op: 'eq',
      value: 'x',
    });
    expect(parseFilter('title pr')).toEqual({ attribute: 'title', op: 'pr', value: null });
    expect(parseFilter('active eq true')).toEqual({ attribute: 'active', op: 'eq', value: 'true' });
    expect(parseFilter('userName eq "unterminated')).toEqual({
      attribute: 'userName',
      op: 'eq',
      value: 'unterminated',
    });
    expect(parseFilter('garbage')).toBeNull();
  });

  it('parses paths and queries', () => {
    // any base path; plural ServiceProviderConfigs; case-insensitive parameter names
    expect(parseTarget('/scim/v2/Users/abc')).toEqual({ resourceType: 'User', id: 'abc', extra: false });
    expect(parseTarget('/ServiceProviderConfigs')).toEqual({
      resourceType: 'ServiceProviderConfig',
      id: null,
      extra: false,
    });
    expect(parseQuery('Filter=a+b&filter=c').get('filter')).toBe('a b');
  });
});
