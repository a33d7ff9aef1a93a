import { afterEach, describe, expect, it } from 'vitest';
import type { Operation } from '../scim/types.js';
import { createCycleStage } from './index.js';
import { rebuildRollups } from './rebuild.js';
import { syntheticOperation as make, syntheticTraffic } from './synthetic.js';
import { createHarness, type Harness } from './testing.js';

const T0 = Date.UTC(2025, 0, 15, 9, 0, 0);
const MIN = 60_000;
const at = (m: number) => T0 + m * MIN;

let h: Harness;
afterEach(() => h?.close());

const probe = (m: number, httpStatus = 200): Operation =>
  make({
    time: at(m),
    operation: 'testConnection',
    httpStatus,
    status: httpStatus === 200 ? 'success' : 'failure',
    errorCode: httpStatus === 401 ? 'Unauthorized' : null,
  });
const lookup = (m: number, name: string, targetId: string | null = null): Operation =>
  make({ time: at(m), operation: 'lookup', identity: name, targetId });
const create = (m: number, name: string, targetId: string | null, fail = false): Operation =>
  make({
    time: at(m),
    operation: 'create',
    httpMethod: 'POST',
    identity: name,
    externalId: `ext-${name}`,
    targetId: fail ? null : targetId,
    httpStatus: fail ? 409 : 201,
    status: fail ? 'failure' : 'success',
    errorCode: fail ? 'EntryConflict' : null,
    reason: fail ? 'userName is not unique' : null,
    modifiedProperties: [{ name: 'active', value: 'True' }],
  });
const patchUser = (
  m: number,
  targetId: string,
  operation: Operation['operation'] = 'update',
  httpStatus = 200,
): Operation =>
  make({
    time: at(m),
    operation,
    httpMethod: 'PATCH',
    path: `/scim/v2/Users/${targetId}`,
    targetId,
    httpStatus,
    status: httpStatus < 300 ? 'success' : 'failure',
    errorCode: httpStatus === 429 ? 'TooManyRequests' : httpStatus >= 500 ? 'InternalServerError' : null,
  });
const group = (m: number, operation: Operation['operation'], extra: Partial<Operation>): Operation =>
  make({ time: at(m), operation, resourceType: 'Group', identityType: 'Group', httpStatus: 204, ...extra });

function cycles() {
  return h.db.$client.prepare('select * from cycles order by id').all() as Record<string, unknown>[];
}
function identity(where: string, ...args: unknown[]) {
  return h.db.$client.prepare(`select * from identities where ${where}`).get(...args) as Record<
    string,
    unknown
  >;
}

describe('cycle stage', () => {
  it('assigns cycles and rolls them up as operations are recorded', () => {
    h = createHarness();
    // an initial cycle over several batches: probe, lookups and creates for 3 users, one create throttled
    const stored = h.ingest(
      [
        probe(0),
        lookup(0.1, 'ada'),
        create(0.2, 'ada', 'u-1'),
        lookup(0.3, 'bob'),
        create(0.4, 'bob', 'u-2'),
        lookup(0.5, 'cyd'),
        patchUser(0.6, 'u-1', 'update', 429),
        make({ time: at(0.7), operation: 'schemaDiscovery', resourceType: 'Schema', identityType: null }),
      ],
      3,
    );
    expect(stored.map((o) => o.cycleId)).toEqual(Array(8).fill(1));
    expect(stored.map((o) => o.identityId)).toEqual([null, 1, 1, 2, 2, 3, 1, null]);
    const [c] = cycles();
    expect(c).toMatchObject({
      state: 'running',
      kind: 'initial',
      started_at: at(0),
      ended_at: at(0.7),
      probe_operation_id: stored[0].id,
      probe_status: 200,
      total: 8,
      successes: 7,
      failures: 1,
      throttled: 1,
      users_touched: 3,
      groups_touched: 0,
      processed_objects: 3,
      lookups: 3,
      provisioning_ops: 6,
    });
    expect(JSON.parse(c.counts_by_operation as string)).toMatchObject({
      lookup: { success: 3, failure: 0, warning: 0 },
      update: { success: 0, failure: 1, warning: 0 },
    });
    expect(JSON.parse(c.counts_by_error_code as string)).toEqual({ TooManyRequests: 1 });

    // the timer closes it once the silence has passed, not before
    expect(h.stage.closeStale(at(0.7) + 4 * MIN)).toBe(false);
    expect(h.stage.closeStale(at(5.7))).toBe(true);
    expect(cycles()[0]).toMatchObject({ state: 'completed', closed_at: at(5.7) });
    expect(h.stage.runningCycleId()).toBeNull();
  });

  it('names kinds: initial, Test Connection, incremental, on demand', () => {
    h = createHarness();
    h.ingest([
      probe(0),
      lookup(0.1, 'ada'),
      create(0.2, 'ada', 'u-1'),
      lookup(0.3, 'bob'),
      create(0.4, 'bob', 'u-2'),
    ]);
    h.ingest([probe(10)]); // the admin's Test Connection
    h.ingest([probe(40), patchUser(40.1, 'u-1'), patchUser(40.2, 'u-2')]); // Entra's next cycle
    h.ingest([probe(55), lookup(55.1, 'cyd'), create(55.2, 'cyd', 'u-3')]); // provision on demand
    h.ingest([probe(80)]); // a quiet scheduled cycle
    h.ingest([probe(121, 401)]); // the next cycle's probe refused
    h.stage.closeStale(at(200));
    expect(cycles().map((c) => [c.kind, c.state])).toEqual([
      ['initial', 'completed'],
      ['testConnection', 'completed'],
      ['incremental', 'completed'],
      ['onDemand', 'completed'],
      ['incremental', 'completed'],
      ['incremental', 'completed'],
    ]);
    expect(cycles()[5]).toMatchObject({
      probe_status: 401,
      probe_outcome: 'failure',
      probe_error_code: 'Unauthorized',
      failures: 1,
    });
  });

  it("keeps traffic after a refused probe in the probe's cycle, which is failing", () => {
    h = createHarness();
    // Entra's probe gets 401 and the lookups after it too: one cycle, its probe recorded as refused
    const stored = h.ingest([probe(0, 401), lookup(0.1, 'ada'), lookup(0.2, 'bob')]);
    expect(stored.map((o) => o.cycleId)).toEqual([1, 1, 1]);
    expect(cycles()[0]).toMatchObject({
      kind: 'initial',
      probe_status: 401,
      probe_outcome: 'failure',
      probe_error_code: 'Unauthorized',
      failures: 1,
      total: 3,
    });
  });

  it('never reopens a closed cycle when the clock jumps back', () => {
    h = createHarness();
    h.ingest([probe(60), lookup(60.1, 'ada'), lookup(61, 'bob')]);
    h.stage.closeStale(at(70));
    // operations stamped inside cycle 1's time range, recorded after it closed
    const late = h.ingest([lookup(60.5, 'cyd'), lookup(60.6, 'dan')]);
    expect(late.map((o) => o.cycleId)).toEqual([2, 2]);
    expect(cycles().map((c) => [c.id, c.state, c.total])).toEqual([
      [1, 'completed', 3],
      [2, 'running', 2],
    ]);
  });

  it.each([1, 50])(
    'links a lookup by name to the id the app returns, so a later PATCH by id finds it (batches of %i)',
    (batch) => {
      h = createHarness();
      // lookup finds nothing (identity by name), create returns the id, PATCH /Users/u-7 carries only the id
      const stored = h.ingest(
        [probe(0), lookup(0.1, 'ada'), create(0.2, 'Ada', 'u-7'), patchUser(0.3, 'u-7')],
        batch,
      );
      expect(new Set(stored.slice(1).map((o) => o.identityId)).size).toBe(1);
      expect(identity('id = ?', stored[1].identityId)).toMatchObject({
        type: 'User',
        key: 'u-7',
        target_id: 'u-7',
        name: 'Ada',
        external_id: 'ext-Ada',
        last_operation: 'update',
        last_operation_id: stored[3].id,
        first_seen: at(0.1),
        last_seen: at(0.3),
        active: 1,
      });
      // a lookup that already returns the id joins the same identity too
      const again = h.ingest([lookup(40, 'ada', 'u-7')], batch);
      expect(again[0].identityId).toBe(stored[1].identityId);
    },
  );

  it.each([1, 50])(
    'tracks the failing streak across cycles: fail, fail, success (batches of %i)',
    (batch) => {
      h = createHarness();
      h.ingest([probe(0), lookup(0.1, 'ada'), create(0.2, 'ada', null, true)], batch);
      expect(identity("name = 'ada'")).toMatchObject({
        failing_streak: 1,
        last_status: 'failure',
        last_error_code: 'EntryConflict',
      });
      h.ingest([probe(40), lookup(40.1, 'ada'), create(40.2, 'ada', null, true)], batch);
      const failing = identity("name = 'ada'");
      expect(failing).toMatchObject({ failing_streak: 2, failing_since: at(0.2), last_failed_cycle_id: 2 });
      h.ingest([probe(80), lookup(80.1, 'ada'), create(80.2, 'ada', 'u-1')], batch);
      expect(identity("name = 'ada'")).toMatchObject({
        failing_streak: 0,
        last_status: 'success',
        last_error_code: 'EntryConflict',
        key: 'u-1',
        last_cycle_id: 3,
      });
    },
  );

  it.each([1, 50])('applies disable, delete, group rename and memberships (batches of %i)', (batch) => {
    h = createHarness();
    h.ingest(
      [
        probe(0),
        create(0.1, 'ada', 'u-1'),
        create(0.2, 'bob', 'u-2'),
        group(0.3, 'create', { identity: 'Finance', targetId: 'g-1', httpStatus: 201 }),
        group(0.4, 'addMembers', { targetId: 'g-1', members: [{ op: 'add', ids: ['u-1', 'u-2'] }] }),
      ],
      batch,
    );
    const g = identity("type = 'Group'");
    const members = () =>
      h.db.$client
        .prepare('select member_target_id from memberships where group_identity_id = ? order by 1')
        .pluck()
        .all(g.id);
    expect(members()).toEqual(['u-1', 'u-2']);
    expect(cycles()[0]).toMatchObject({ users_touched: 2, groups_touched: 1, members_touched: 2 });

    h.ingest(
      [
        probe(40),
        patchUser(40.1, 'u-1', 'disable'),
        group(40.2, 'update', {
          targetId: 'g-1',
          identity: 'Finance EMEA',
          modifiedProperties: [{ name: 'displayName', value: 'Finance EMEA' }],
        }),
        group(40.3, 'removeMembers', { targetId: 'g-1', members: [{ op: 'remove', ids: ['u-1'] }] }),
        // a failed member add changes nothing
        group(40.4, 'addMembers', {
          targetId: 'g-1',
          members: [{ op: 'add', ids: ['u-9'] }],
          httpStatus: 500,
          status: 'failure',
        }),
        make({ time: at(40.5), operation: 'delete', httpMethod: 'DELETE', targetId: 'u-2', httpStatus: 204 }),
      ],
      batch,
    );
    expect(identity("target_id = 'u-1'")).toMatchObject({ active: 0, deleted: 0, last_operation: 'disable' });
    expect(identity("target_id = 'u-2'")).toMatchObject({ deleted: 1 });
    expect(identity("type = 'Group'")).toMatchObject({ id: g.id, name: 'Finance EMEA', failing_streak: 1 });
    // u-1 removed, u-2 deleted (its memberships go with it), u-9 never added
    expect(members()).toEqual([]);
    expect(cycles()[1]).toMatchObject({ deletes: 2, groups_touched: 1, users_touched: 2 });
  });

  it('reloads its state after a rolled-back batch', () => {
    let fail = false;
    h = createHarness({
      stages: [
        {
          afterInsert() {
            if (fail) throw Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR' });
          },
        },
      ],
    });
    h.ingest([probe(0), lookup(0.1, 'ada')]);
    fail = true;
    // this batch would close cycle 1 and open cycle 2; it rolls back
    expect(() => h.ingest([probe(40), lookup(40.1, 'bob')])).toThrow('disk I/O error');
    fail = false;
    expect(h.stage.runningCycleId()).toBe(1);
    const retried = h.ingest([probe(40), lookup(40.1, 'bob')]);
    expect(retried.map((o) => o.cycleId)).toEqual([2, 2]);
    expect(cycles().map((c) => [c.id, c.state, c.total])).toEqual([
      [1, 'completed', 2],
      [2, 'running', 2],
    ]);
  });

  it('picks the running cycle up again after a restart', () => {
    h = createHarness();
    h.ingest([probe(0), lookup(0.1, 'ada'), create(0.2, 'ada', 'u-1')]);
    // a second stage on the same database (a restarted process) continues cycle 1
    const restarted = createCycleStage({ db: h.db, config: h.config });
    expect(restarted.runningCycleId()).toBe(1);
    const ops = [lookup(1, 'bob'), create(1.1, 'bob', 'u-2')].map((o) => ({
      ...o,
      cycleId: null,
      identityId: null,
    }));
    h.db.$client.transaction(() => {
      restarted.beforeInsert(ops);
      restarted.afterInsert(ops.map((o, i) => ({ ...o, id: 100 + i })));
    })();
    expect(ops.map((o) => o.cycleId)).toEqual([1, 1]);
    expect(cycles()[0]).toMatchObject({ total: 5, users_touched: 2, ended_at: at(1.1) });
  });

  // A rename learnt from a call that names the object (a lookup, by name) reaches the calls addressed by its
  // id afterwards, as it would after a restart emptied the stage's caches.
  it('labels a call addressed by id with the name learnt last, restart or not', () => {
    h = createHarness();
    h.ingest([probe(0), create(0.1, 'Ada', 'u-1'), patchUser(0.2, 'u-1')]);
    h.ingest([lookup(0.3, 'ADA'), patchUser(0.4, 'u-1')]);
    expect(identity('id = 1')).toMatchObject({ name: 'ADA', target_id: 'u-1' });
    const labels = h.db.$client
      .prepare("select identity from operations where http_method = 'PATCH' order by id")
      .pluck()
      .all();
    expect(labels).toEqual(['Ada', 'ADA']);
  });

  it('sets progress inputs: expected objects from config, else the previous initial cycle', () => {
    h = createHarness({ env: { SCIMTAP_EXPECTED_OBJECTS: '5000' } });
    h.ingest([probe(0), lookup(0.1, 'ada'), lookup(0.2, 'bob')]);
    expect(cycles()[0]).toMatchObject({ kind: 'initial', expected_objects: 5000, processed_objects: 2 });
    h.close();

    h = createHarness();
    h.ingest([probe(0), lookup(0.1, 'ada'), lookup(0.2, 'bob')]);
    expect(cycles()[0]).toMatchObject({ kind: 'initial', expected_objects: null });
    // a restart of provisioning: lookups for all known identities make the next cycle initial
    h.ingest([probe(40), lookup(40.1, 'ada'), lookup(40.2, 'bob'), lookup(40.3, 'cyd')]);
    expect(cycles()[1]).toMatchObject({ kind: 'initial', expected_objects: 2, processed_objects: 3 });
  });

  it('rebuild reproduces what incremental recording produced', () => {
    h = createHarness();
    const ops = [...syntheticTraffic({ users: 60, groups: 6, incrementalCycles: 30, seed: 7 })];
    // recorder-like uneven batches
    let i = 0;
    let size = 1;
    while (i < ops.length) {
      h.ingest(ops.slice(i, i + size), size);
      i += size;
      size = (size * 7) % 97 || 1;
    }
    const end = ops[ops.length - 1].time + 60 * MIN;
    h.stage.closeStale(end);
    const snapshot = () => ({
      cycles: h.db.$client.prepare('select * from cycles order by id').all(),
      identities: h.db.$client.prepare('select * from identities order by id').all(),
      memberships: h.db.$client.prepare('select * from memberships order by 1, 2').all(),
      assigned: h.db.$client.prepare('select id, cycle_id, identity_id from operations order by id').all(),
    });
    const before = snapshot();
    expect(before.cycles.length).toBeGreaterThan(30);
    expect(new Set(before.cycles.map((c) => (c as { kind: string }).kind))).toEqual(
      new Set(['initial', 'incremental', 'testConnection', 'onDemand']),
    );

    const result = rebuildRollups(h.db, h.config, { clock: () => end, batchSize: 500 });
    expect(result).toMatchObject({ operations: ops.length, cycles: before.cycles.length });
    expect(snapshot()).toEqual(before);
  });
});
