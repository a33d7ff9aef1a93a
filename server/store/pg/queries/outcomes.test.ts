import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BothStores, recordedOnBothStores } from '../../../../test/helpers/both-stores.js';
import { type PostgresServer, startPostgres } from '../../../../test/helpers/postgres.js';
import { addOperations, operationRow } from '../../../../test/helpers/same-rows.js';
import { operationStatuses } from '../../../vocabulary.js';
import { decodeCursor } from '../../queries/cursor.js';
import * as sqlite from '../../queries/outcomes.js';
import * as twin from './outcomes.js';

let server: PostgresServer;
let both: BothStores;
let original: ReturnType<typeof sqlite.createCycleOutcomeQuery>;
let query: ReturnType<typeof twin.createCycleOutcomeQuery>;

beforeAll(async () => {
  server = await startPostgres();
  both = await recordedOnBothStores(server);
  // What the recorded traffic lacks: a failure then a retry that went through (a past failure), a warning,
  // an identity id with no identity row, and a call on no identity, all in the running cycle 12.
  await addOperations(both, [
    operationRow(10_001, {
      cycleId: 12,
      identityId: 3,
      status: 'failure',
      httpStatus: 500,
      errorCode: 'InternalServerError',
    }),
    operationRow(10_002, { cycleId: 12, identityId: 3, status: 'success', httpStatus: 200 }),
    operationRow(10_003, {
      cycleId: 12,
      identityId: 6,
      status: 'warning',
      httpStatus: 409,
      reason: 'exists',
    }),
    operationRow(10_004, { cycleId: 12, identityId: 77_777, status: 'failure', httpStatus: 404 }),
    operationRow(10_005, { cycleId: 12, identityId: null, status: 'failure', httpStatus: 401 }),
  ]);
  original = sqlite.createCycleOutcomeQuery(both.sqlite);
  query = twin.createCycleOutcomeQuery(both.pg);
}, 60_000);

afterAll(async () => {
  await both?.close();
  await server?.stop();
});

/** Walks every page on both stores, the next `before` read from the returned cursor; returns the outcomes. */
async function walk(cycleId: number, outcome: sqlite.CycleOutcomePage['outcome'], limit: number) {
  const all: sqlite.CycleOutcome[] = [];
  let before: number | null = null;
  for (let pages = 0; pages < 200; pages++) {
    const page: sqlite.CycleOutcomePage = { outcome, before, limit };
    const expected = original(cycleId, page);
    const actual = await query(cycleId, page);
    expect(actual).toStrictEqual(expected);
    all.push(...actual.items);
    if (actual.nextCursor === null) return all;
    before = decodeCursor(actual.nextCursor);
  }
  throw new Error('the outcome pages never ended');
}

describe('createCycleOutcomeQuery', () => {
  const cycleIds = [1, 2, 3, 5, 8, 11, 12, 13, 9999];
  const outcomes = [undefined, ...operationStatuses];

  it.each(cycleIds)('cycle %i: each status, every page', async (cycleId) => {
    for (const outcome of outcomes) {
      for (const limit of [1, 3, 1000]) await walk(cycleId, outcome, limit);
    }
  });

  it('the cases meant to match do', async () => {
    for (const outcome of outcomes) expect((await walk(12, outcome, 1000)).length).toBeGreaterThan(0);
    expect((await walk(2, 'failure', 1000)).length).toBeGreaterThan(0);
    expect(await walk(9999, undefined, 10)).toEqual([]);
    const twelve = await walk(12, undefined, 2);
    const retried = twelve.find((o) => o.identityId === 3);
    expect(retried).toMatchObject({ outcome: 'success', lastFailure: { operationId: 10_001, past: true } });
    expect(twelve.find((o) => o.identityId === 77_777)).toMatchObject({
      type: null,
      name: null,
      failures: 1,
    });
    expect(twelve.some((o) => o.lastFailure?.past === false)).toBe(true);
    expect(twelve.some((o) => o.lastFailure === null)).toBe(true);
  });

  it('a `before` given outright, past the oldest, and limits at the edge', async () => {
    for (const before of [0, 1, 5, 30, 1_000_000]) {
      const page = { before, limit: 4 };
      expect(await query(12, page)).toStrictEqual(original(12, page));
    }
    const count = (await walk(12, undefined, 1000)).length;
    for (const limit of [count - 1, count, count + 1]) {
      const page = { before: null, limit };
      const actual = await query(12, page);
      expect(actual).toStrictEqual(original(12, page));
      expect(actual.nextCursor === null).toBe(limit >= count);
    }
  });
});
