import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  addMembersBody,
  createGroupBody,
  createUserBody,
  emptyListResponse,
  exchange,
  listResponse,
  PROBE_GUID,
  patch2017Disable,
  patch2017Update,
  patch2020Update,
  patchBody,
  removeMembers2020Body,
  SCHEMA_ENTERPRISE,
  scimError,
  userResource,
} from '../../test/fixtures/entra.js';
import { classify } from './classify.js';
import {
  type ClassifyOptions,
  type Exchange,
  errorCodes,
  type Operation,
  operationKinds,
  operationStatuses,
  provisioningActions,
  resourceTypes,
} from './types.js';

const RUNS = Number(process.env.FC_RUNS ?? 2000);

const segment = fc.oneof(
  fc.constantFrom(
    'scim',
    'v2',
    'Users',
    'users',
    'GROUPS',
    'Groups',
    'Schemas',
    'ServiceProviderConfig',
    'ServiceProviderConfigs',
    'ResourceTypes',
    'Bulk',
    '.search',
    '..',
    '.',
    '%',
    '%ZZ',
    '%E0%A4',
    '%2F',
    '__proto__',
    'constructor',
    'u-1091',
    PROBE_GUID,
  ),
  fc.string({ unit: 'binary', maxLength: 12 }),
);
const path = fc.array(segment, { maxLength: 6 }).map((s) => `/${s.join('/')}`);

const filterText = fc.oneof(
  fc.constantFrom(
    `userName eq "${PROBE_GUID}"`,
    'userName eq "ada@example.com"',
    'displayName eq "Finance"',
    'externalId eq "x" and active eq true',
    'userName pr',
    '((((',
    'userName eq "unterminated',
    '',
  ),
  fc.string({ unit: 'binary', maxLength: 30 }),
);
const param = fc.oneof(
  filterText.map((f) => `filter=${encodeURIComponent(f).replace(/%20/g, '+')}`),
  fc.constantFrom('excludedAttributes=members', 'Filter=a', 'filter=%ZZ', 'count=', '=', '&&', 'filter'),
  fc.string({ unit: 'binary', maxLength: 20 }),
);
const query = fc.array(param, { maxLength: 4 }).map((p) => p.join('&'));

const entraBody = fc.constantFrom<unknown>(
  createUserBody(),
  createGroupBody({ members: [{ value: 'u-1' }] }),
  patch2017Disable,
  patch2017Update,
  patch2020Update,
  addMembersBody(['u-1', 'u-2']),
  removeMembers2020Body(['u-1']),
  emptyListResponse,
  listResponse([userResource(), userResource()]),
  scimError(409, 'exists', 'uniqueness'),
  userResource(),
);
const body = fc.oneof(
  fc.constant(null),
  fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v) ?? 'null'),
  entraBody.map((v) => JSON.stringify(v)),
  fc.string({ unit: 'binary', maxLength: 100 }),
);

const failure = fc.constantFrom(null, null, 'UpstreamUnreachable', 'Timeout', 'ClientAborted' as const);
const status = fc.oneof(
  fc.constant(null),
  fc.constantFrom(200, 201, 204, 302, 400, 401, 403, 404, 409, 429, 500, 502, 503, 504),
  fc.integer({ min: -1, max: 1000 }),
);
const options: fc.Arbitrary<ClassifyOptions> = fc.record({
  capture: fc.constantFrom('full', 'redacted', 'none' as const),
  redact: fc.oneof(
    fc.constant<string[]>(['password']),
    fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 }),
  ),
});

const randomExchange: fc.Arbitrary<Exchange> = fc
  .record({
    method: fc.oneof(
      fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'get', 'Patch', ''),
      fc.string({ maxLength: 8 }),
    ),
    path,
    query,
    reqBody: body,
    resBody: body,
    status,
    failure,
    failureDetail: fc.option(fc.string({ maxLength: 20 })),
    reqCut: fc.option(fc.nat({ max: 300 })),
    resCut: fc.option(fc.nat({ max: 300 })),
  })
  .map((r) =>
    exchange({
      method: r.method,
      path: r.path,
      query: r.query,
      reqBody: r.reqBody,
      resBody: r.resBody,
      status: r.status,
      failure: r.failure,
      failureDetail: r.failureDetail,
      reqTruncateAt: r.reqCut ?? undefined,
      resTruncateAt: r.resCut ?? undefined,
    }),
  );

const ACTION_OF: Record<string, string> = {
  create: 'create',
  update: 'update',
  enable: 'update',
  addMembers: 'update',
  removeMembers: 'update',
  replaceMembers: 'update',
  disable: 'disable',
  delete: 'delete',
};

function isTextOrNull(v: unknown): boolean {
  return v === null || typeof v === 'string';
}

function checkShape(op: Operation, opts: ClassifyOptions): void {
  expect(resourceTypes).toContain(op.resourceType);
  expect(operationKinds).toContain(op.operation);
  expect(provisioningActions).toContain(op.provisioningAction);
  expect(op.provisioningAction).toBe(ACTION_OF[op.operation] ?? 'other');
  expect(operationStatuses).toContain(op.status);
  if (op.errorCode !== null) expect(errorCodes).toContain(op.errorCode);
  // a failure always names its code; success and warning never do
  expect(op.status === 'failure').toBe(op.errorCode !== null);
  expect([null, 'User', 'Group']).toContain(op.identityType);
  for (const v of [
    op.identity,
    op.externalId,
    op.targetId,
    op.scimType,
    op.reason,
    op.requestBody,
    op.responseBody,
  ]) {
    expect(isTextOrNull(v)).toBe(true);
  }
  for (const p of op.modifiedProperties) {
    expect(typeof p.name).toBe('string');
    expect(typeof p.value).toBe('string');
  }
  for (const m of op.members) {
    expect(['add', 'remove', 'replace']).toContain(m.op);
    for (const id of m.ids) expect(typeof id).toBe('string');
  }
  if (opts.capture === 'none') {
    expect(op.requestBody).toBeNull();
    expect(op.responseBody).toBeNull();
  }
}

describe('classify on random exchanges', () => {
  it('never throws and stays within the vocabulary', () => {
    // any method, path, query, bytes, status and failure yields a well-formed Operation
    fc.assert(
      fc.property(randomExchange, options, (ex, opts) => {
        checkShape(classify(ex, opts), opts);
      }),
      { numRuns: RUNS },
    );
  });
});

// A marker that no other generated field can contain, so any surviving piece of the secret is visible.
const MARK = 'Pw~';
const password = fc.string({ unit: 'binary', minLength: 1, maxLength: 24 }).map((s) => `${MARK}${s}~`);
const keyCase = fc.constantFrom('password', 'Password', 'PASSWORD', 'passWord');
const word = fc.string({
  unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789'.split('')),
  maxLength: 10,
});

type Shape = (pw: string, key: string, filler: string) => unknown;
const shapes: Shape[] = [
  // POST /Users with a password
  (pw, key, filler) => createUserBody({ [key]: pw, displayName: filler }),
  // inside the enterprise extension
  (pw, key) => createUserBody({ [SCHEMA_ENTERPRISE]: { [key]: pw } }),
  // 2017 PATCH: path op
  (pw, key, filler) =>
    patchBody([
      { op: 'Replace', path: 'displayName', value: filler },
      { op: 'Replace', path: key, value: pw },
    ]),
  // value before path
  (pw, key) => patchBody([{ value: pw, op: 'replace', path: key }]),
  // URN path
  (pw, key) =>
    patchBody([{ op: 'add', path: `urn:ietf:params:scim:schemas:core:2.0:User:${key}`, value: pw }]),
  // 2020 PATCH: path-less object
  (pw, key, filler) => patchBody([{ op: 'replace', value: { displayName: filler, [key]: pw } }]),
  // a complex value under the secret key
  (pw, key) => patchBody([{ op: 'replace', value: { [key]: { value: pw } } }]),
  // an app that echoes the secret in its answer
  (pw, key, filler) => userResource({ [key]: pw, displayName: filler }),
  // a Bulk request carrying a user
  (pw, key) => ({ Operations: [{ method: 'POST', path: '/Users', data: { userName: 'a', [key]: pw } }] }),
];

describe('redaction on random secrets', () => {
  it('never stores a password in redacted or none mode, even in a truncated body', () => {
    fc.assert(
      fc.property(
        password,
        keyCase,
        word,
        fc.nat({ max: shapes.length - 1 }),
        fc.constantFrom('request', 'response'),
        fc.constantFrom('POST', 'PATCH', 'PUT'),
        fc.option(fc.nat({ max: 400 })),
        fc.constantFrom('redacted', 'none' as const),
        fc.constantFrom(200, 201, 204, 400, 409),
        (pw, key, filler, shape, side, method, cut, capture, httpStatus) => {
          const text = JSON.stringify(shapes[shape](pw, key, filler));
          const ex = exchange({
            method,
            path: method === 'POST' ? '/scim/v2/Users' : '/scim/v2/Users/u-1',
            status: httpStatus,
            ...(side === 'request'
              ? { reqBody: text, reqTruncateAt: cut ?? undefined }
              : { resBody: text, resTruncateAt: cut ?? undefined }),
          });
          const op = classify(ex, { capture, redact: ['password'] });
          const texts = [
            op.requestBody,
            op.responseBody,
            op.reason,
            op.identity,
            op.externalId,
            op.targetId,
            ...op.modifiedProperties.flatMap((p) => [p.name, p.value]),
            ...op.members.flatMap((m) => m.ids),
          ];
          for (const t of texts) {
            if (t === null) continue;
            expect(t).not.toContain(pw);
            expect(t).not.toContain(MARK);
          }
        },
      ),
      { numRuns: RUNS },
    );
  });
});
