import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import { afterAll, describe, expect, it } from 'vitest';
import { sqliteAdminStore } from '../../store/admin-store.js';
import { openDatabase } from '../../store/db.js';
import type { CycleOutcome } from '../../store/queries/outcomes.js';
import { onApiError } from '../errors.js';
import { cycleOutcomeRoutes } from './cycle-outcomes.js';

const db = openDatabase(join(mkdtempSync(join(tmpdir(), 'scimtap-outcomes-')), 't.db'));
afterAll(() => db.$client.close());

const T0 = Date.parse('2024-05-01T10:00:00.000Z');
const addIdentity = db.$client.prepare(
  `insert into identities (id, type, key, name, target_id, first_seen, last_seen) values (?, ?, ?, ?, ?, 0, 0)`,
);
addIdentity.run(1, 'User', 'u1', 'ada@contoso.example', 'u1');
addIdentity.run(2, 'User', 'u2', 'grace@contoso.example', 'u2');
addIdentity.run(3, 'Group', 'g1', 'Sales', 'g1');
const addOp = db.$client.prepare(
  `insert into operations (time, duration_ms, cycle_id, identity_id, http_method, path, resource_type, operation,
     provisioning_action, status, http_status, error_code, reason)
   values (?, 5, ?, ?, 'POST', '/Users', 'User', ?, 'create', ?, ?, ?, ?)`,
);
let t = T0;
// cycle 1: ada fails then succeeds (outcome success, 1 failure); grace fails; the group succeeds; a probe
addOp.run(t++, 1, null, 'testConnection', 'success', 200, null, null);
addOp.run(t++, 1, 1, 'create', 'failure', 500, 'InternalServerError', 'boom');
addOp.run(t++, 1, 2, 'create', 'failure', 409, 'EntryConflict', 'userName taken');
addOp.run(t++, 1, 1, 'create', 'success', 201, null, null);
addOp.run(t++, 1, 3, 'create', 'success', 201, null, null);
// cycle 2 must not leak into cycle 1
addOp.run(t++, 2, 2, 'update', 'success', 200, null, null);

const app = new Hono()
  .onError(onApiError)
  .route('/cycles/:id/outcomes', cycleOutcomeRoutes({ store: sqliteAdminStore(db) }));
const get = async (path: string) => {
  const res = await app.request(path);
  return {
    status: res.status,
    body: (await res.json()) as { items: CycleOutcome[]; nextCursor: string | null },
  };
};

describe('GET /api/cycles/:id/outcomes', () => {
  it('gives one row per identity with its last operation in the cycle as the outcome', async () => {
    const { status, body } = await get('/cycles/1/outcomes');
    expect(status).toBe(200);
    expect(body.nextCursor).toBeNull();
    expect(
      body.items.map((o) => [o.identityId, o.name, o.outcome, o.operations, o.failures, o.errorCode]),
    ).toEqual([
      [3, 'Sales', 'success', 1, 0, null],
      [2, 'grace@contoso.example', 'failure', 1, 1, 'EntryConflict'],
      [1, 'ada@contoso.example', 'success', 2, 1, null],
    ]);
    expect(body.items[1]).toMatchObject({
      type: 'User',
      httpStatus: 409,
      reason: 'userName taken',
      activityDateTime: '2024-05-01T10:00:00.002Z',
    });
  });

  it('gives the last failure in the cycle as its own operation, past once a later call went through', async () => {
    const { body } = await get('/cycles/1/outcomes');
    const [group, grace, ada] = body.items;
    expect(group.lastFailure).toBeNull();
    // grace's failure is her last operation: the same operation, not past
    expect(grace.lastFailure).toEqual({
      operationId: grace.lastOperationId,
      httpStatus: 409,
      errorCode: 'EntryConflict',
      reason: 'userName taken',
      time: '2024-05-01T10:00:00.002Z',
      past: false,
    });
    // ada's 500 came before her 201: the outcome is the 201's, the failure the 500's, never mixed
    expect(ada).toMatchObject({ outcome: 'success', httpStatus: 201, errorCode: null, reason: null });
    expect(ada.lastFailure).toMatchObject({
      httpStatus: 500,
      errorCode: 'InternalServerError',
      reason: 'boom',
      time: '2024-05-01T10:00:00.001Z',
      past: true,
    });
    expect(ada.lastFailure?.operationId).toBeLessThan(ada.lastOperationId);
  });

  it('filters by outcome', async () => {
    const { body } = await get('/cycles/1/outcomes?outcome=failure');
    expect(body.items.map((o) => o.name)).toEqual(['grace@contoso.example']);
  });

  it('pages by identity id with a cursor', async () => {
    const first = await get('/cycles/1/outcomes?limit=2');
    expect(first.body.items.map((o) => o.identityId)).toEqual([3, 2]);
    const second = await get(`/cycles/1/outcomes?limit=2&cursor=${first.body.nextCursor}`);
    expect(second.body.items.map((o) => o.identityId)).toEqual([1]);
    expect(second.body.nextCursor).toBeNull();
  });

  it('is empty for a cycle with no identities, and rejects bad input', async () => {
    expect((await get('/cycles/99/outcomes')).body.items).toEqual([]);
    expect((await get('/cycles/x/outcomes')).status).toBe(400);
    expect((await get('/cycles/1/outcomes?outcome=maybe')).status).toBe(400);
  });
});
