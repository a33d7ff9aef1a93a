import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syntheticOperation as make } from '../../cycles/synthetic.js';
import { createHarness, type Harness } from '../../cycles/testing.js';
import type { Operation } from '../../scim/types.js';
import { sqliteAdminStore } from '../../store/admin-store.js';
import { onApiError } from '../errors.js';
import { identityRoutes } from './identities.js';

// biome-ignore lint/suspicious/noExplicitAny: response bodies are read loosely; each field read is asserted
type Body = any;
const T0 = Date.UTC(2025, 0, 15, 9, 0, 0);
const MIN = 60_000;
const at = (m: number) => T0 + m * MIN;

let h: Harness;
let app: Hono;
const get = async (path: string) => {
  const res = await app.request(path);
  return { status: res.status, body: (await res.json()) as Body };
};
const names = (body: Body) => body.items.map((i: Body) => i.name);

const probe = (m: number): Operation => make({ time: at(m), operation: 'testConnection' });
const createUser = (m: number, name: string, id: string | null, fail = false): Operation =>
  make({
    time: at(m),
    operation: 'create',
    httpMethod: 'POST',
    identity: name,
    externalId: `ext-${name.split('@')[0]}`,
    targetId: fail ? null : id,
    httpStatus: fail ? 409 : 201,
    status: fail ? 'failure' : 'success',
    errorCode: fail ? 'EntryConflict' : null,
    reason: fail ? 'userName already exists' : null,
  });
const group = (m: number, operation: Operation['operation'], extra: Partial<Operation>): Operation =>
  make({ time: at(m), operation, resourceType: 'Group', identityType: 'Group', httpStatus: 204, ...extra });

beforeAll(() => {
  h = createHarness();
  h.ingest([
    probe(0),
    createUser(0.1, 'ada@contoso.example', 'u-ada'),
    createUser(0.2, 'bob@contoso.example', 'u-bob'),
    createUser(0.3, 'cyd@contoso.example', null, true),
    group(0.4, 'create', { identity: 'Finance', targetId: 'g-fin', externalId: 'ext-fin', httpStatus: 201 }),
    group(0.5, 'addMembers', {
      targetId: 'g-fin',
      members: [{ op: 'add', ids: ['u-ada', 'u-bob', 'u-unknown'] }],
    }),
  ]);
  h.ingest([
    probe(40),
    createUser(40.1, 'cyd@contoso.example', null, true),
    make({
      time: at(40.2),
      operation: 'update',
      targetId: 'u-ada',
      httpStatus: 200,
      status: 'warning',
      modifiedProperties: [{ name: 'displayName', value: 'Ada L' }],
    }),
  ]);
  // 30 more users so paging has something to page
  h.ingest(
    Array.from({ length: 30 }, (_, i) => createUser(41 + i * 0.01, `extra${i}@contoso.example`, `u-x${i}`)),
  );
  app = new Hono()
    .onError(onApiError)
    .route('/api/identities', identityRoutes({ store: sqliteAdminStore(h.db) }));
});
afterAll(() => h.close());

describe('GET /api/identities', () => {
  it('lists identities newest first with their outcome', async () => {
    const { status, body } = await get('/api/identities?limit=1000');
    expect(status).toBe(200);
    expect(body.items).toHaveLength(34);
    expect(body.items.at(-1)).toMatchObject({
      id: 1,
      type: 'User',
      name: 'ada@contoso.example',
      targetId: 'u-ada',
      key: 'u-ada',
      lastOperation: 'update',
      lastStatus: 'warning',
      failingStreak: 0,
      firstSeen: new Date(at(0.1)).toISOString(),
      lastSeen: new Date(at(40.2)).toISOString(),
    });
  });

  it('filters by type', async () => {
    expect(names((await get('/api/identities?type=Group')).body)).toEqual(['Finance']);
    expect((await get('/api/identities?type=User&limit=1000')).body.items).toHaveLength(33);
  });

  it('filters by last status', async () => {
    expect(names((await get('/api/identities?status=failure')).body)).toEqual(['cyd@contoso.example']);
    expect(names((await get('/api/identities?status=warning')).body)).toEqual(['ada@contoso.example']);
  });

  it('filters failing identities (streak ≥ 1) and the others', async () => {
    const failing = await get('/api/identities?failing=true');
    expect(failing.body.items).toHaveLength(1);
    expect(failing.body.items[0]).toMatchObject({
      name: 'cyd@contoso.example',
      failingStreak: 2,
      failingSince: new Date(at(0.3)).toISOString(),
      lastStatus: 'failure',
      lastHttpStatus: 409,
      lastFailure: {
        httpStatus: 409,
        errorCode: 'EntryConflict',
        reason: 'userName already exists',
        time: new Date(at(40.1)).toISOString(),
        // still failing: the last failure is the last operation
        past: false,
      },
    });
    const cyd = failing.body.items[0];
    expect(cyd.lastFailure.operationId).toBe(cyd.lastOperationId);
    expect(cyd.lastFailure.cycleId).toBe(cyd.lastCycleId);
    expect((await get('/api/identities?failing=false&limit=1000')).body.items).toHaveLength(33);
  });

  it('searches names, external ids and target ids with q', async () => {
    // a prefix of the userName, a fragment inside it, case-insensitively
    expect(names((await get('/api/identities?q=ada')).body)).toEqual(['ada@contoso.example']);
    expect(names((await get('/api/identities?q=BOB@CONTOSO')).body)).toEqual(['bob@contoso.example']);
    // an externalId and a target id
    expect(names((await get('/api/identities?q=ext-fin')).body)).toEqual(['Finance']);
    expect(names((await get('/api/identities?q=u-bob')).body)).toEqual(['bob@contoso.example']);
    // LIKE wildcards are taken literally
    expect((await get('/api/identities?q=%25')).body.items).toEqual([]);
    expect((await get('/api/identities?q=_')).body.items).toEqual([]);
    // combined with other filters
    expect(names((await get('/api/identities?q=contoso&status=failure')).body)).toEqual([
      'cyd@contoso.example',
    ]);
  });

  it('pages with limit and cursor, without overlap or gaps', async () => {
    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const { body }: { body: Body } = await get(
        `/api/identities?limit=7${cursor ? `&cursor=${cursor}` : ''}`,
      );
      seen.push(...body.items.map((i: Body) => i.id));
      cursor = body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(Array.from({ length: 34 }, (_, i) => 34 - i));
  });

  it.each([
    ['type=Robot', /type/],
    ['status=broken', /status/],
    ['failing=maybe', /failing/],
    ['limit=5000', /limit/],
    ['cursor=xyz', /cursor/],
    ['q=', /q/],
    ['unknown=1', /unknown/],
  ])('answers 400 to %s', async (qs, message) => {
    const { status, body } = await get(`/api/identities?${qs}`);
    expect(status).toBe(400);
    expect(body.message).toMatch(message);
  });
});

describe('GET /api/identities/:id', () => {
  it('returns a user with its groups and its timeline, newest first', async () => {
    const { status, body } = await get('/api/identities/1');
    expect(status).toBe(200);
    expect(body.identity).toMatchObject({ id: 1, name: 'ada@contoso.example' });
    expect(body.memberships).toEqual({
      role: 'groups',
      total: 1,
      items: [{ identityId: 4, name: 'Finance', targetId: 'g-fin', since: new Date(at(0.5)).toISOString() }],
    });
    expect(body.timeline.items.map((o: Body) => [o.operation, o.status])).toEqual([
      ['update', 'warning'],
      ['create', 'success'],
    ]);
    expect(body.timeline.items[0].activityDateTime).toBe(new Date(at(40.2)).toISOString());
  });

  it('returns a group with its members, known or not', async () => {
    const { body } = await get('/api/identities/4');
    expect(body.identity).toMatchObject({ type: 'Group', name: 'Finance' });
    expect(body.memberships.role).toBe('members');
    expect(body.memberships.items.map((m: Body) => [m.targetId, m.name])).toEqual([
      ['u-ada', 'ada@contoso.example'],
      ['u-bob', 'bob@contoso.example'],
      ['u-unknown', null],
    ]);
  });

  it('pages the timeline', async () => {
    const first = await get('/api/identities/3?limit=1');
    expect(first.body.timeline.items).toHaveLength(1);
    expect(first.body.timeline.items[0].activityDateTime).toBe(new Date(at(40.1)).toISOString());
    const second = await get(`/api/identities/3?limit=1&cursor=${first.body.timeline.nextCursor}`);
    expect(second.body.timeline.items[0].activityDateTime).toBe(new Date(at(0.3)).toISOString());
    expect(second.body.timeline.nextCursor).toBeNull();
  });

  it('answers 404 for an unknown identity and 400 for bad input', async () => {
    expect((await get('/api/identities/999')).status).toBe(404);
    expect((await get('/api/identities/x')).status).toBe(400);
    expect((await get('/api/identities/1?limit=0')).status).toBe(400);
  });
});

describe('the last failure beside the last outcome', () => {
  it('keeps a past 401 apart from the later 204: never "204 Unauthorized"', async () => {
    const own = createHarness();
    try {
      const eve = (m: number, extra: Partial<Operation>) =>
        make({ time: at(m), operation: 'update', targetId: 'u-eve', httpMethod: 'PATCH', ...extra });
      own.ingest([probe(0), createUser(0.1, 'eve@contoso.example', 'u-eve')]);
      own.ingest([
        probe(40),
        eve(40.1, {
          httpStatus: 401,
          status: 'failure',
          errorCode: 'Unauthorized',
          reason: 'Invalid bearer token: the token has expired',
        }),
      ]);
      own.ingest([probe(80), eve(80.1, { httpStatus: 204 })]);
      const api = new Hono()
        .onError(onApiError)
        .route('/api/identities', identityRoutes({ store: sqliteAdminStore(own.db) }));
      const { identity, timeline } = (await (await api.request('/api/identities/1')).json()) as Body;
      const byId = new Map(timeline.items.map((o: Body) => [o.id, o]));
      // the last outcome: the 204, in the last cycle
      expect(identity).toMatchObject({ lastOperation: 'update', lastStatus: 'success', lastHttpStatus: 204 });
      expect(byId.get(identity.lastOperationId)).toMatchObject({ httpStatus: 204, errorCode: null });
      // the last failure: every field from the 401's operation, marked past
      expect(identity.lastFailure).toMatchObject({
        status: 'failure',
        httpStatus: 401,
        errorCode: 'Unauthorized',
        reason: 'Invalid bearer token: the token has expired',
        time: new Date(at(40.1)).toISOString(),
        past: true,
      });
      const failed = byId.get(identity.lastFailure.operationId) as Body;
      expect(failed).toMatchObject({ httpStatus: 401, errorCode: 'Unauthorized', status: 'failure' });
      expect(identity.lastFailure.cycleId).toBe(failed.cycleId);
      expect(identity.lastFailure.cycleId).not.toBe(identity.lastCycleId);
    } finally {
      own.close();
    }
  });
});
