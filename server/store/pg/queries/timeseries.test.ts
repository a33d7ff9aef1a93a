import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type BothStores, recordedOnBothStores } from '../../../../test/helpers/both-stores.js';
import { addExtraOperations } from '../../../../test/helpers/extra-operations.js';
import { type PostgresServer, startPostgres } from '../../../../test/helpers/postgres.js';
import * as sqlite from '../../queries/timeseries.js';
import * as pg from './timeseries.js';

let server: PostgresServer;
let both: BothStores;
let first: number;
let last: number;
beforeAll(async () => {
  server = await startPostgres();
  both = await recordedOnBothStores(server);
  // a warning, and rows at odd milliseconds
  await addExtraOperations(both);
  ({ first, last } = both.sqlite.get<{ first: number; last: number }>(
    sql`select min(time) as first, max(time) as last from operations`,
  ));
}, 60_000);
afterAll(async () => {
  await both?.close();
  await server?.stop();
});

const floor = (t: number, b: number) => Math.floor(t / b) * b;
const ceil = (t: number, b: number) => Math.ceil(t / b) * b;

// [name, from, to, nonEmpty], per bucket width (the API's 10 s to a day, in ms)
const windows = (b: number): [string, number, number, boolean][] => [
  ['the recorded range', first, last + 1, true],
  ['the range on bucket bounds', floor(first, b), ceil(last + 1, b), true],
  ['the API default: 60 buckets up to the last row', ceil(last, b) - 60 * b, ceil(last, b), true],
  ['the first half', first, Math.floor((first + last) / 2), true],
  ['off bucket bounds', first + 1_234, last - 4_321, true],
  ['to excludes a row at to', first, first, false],
  ['from includes a row at from', first, first + 1, true],
  ['before the first row', first - 10 * b, first, false],
  ['after the last row', last + 1, last + 1 + 10 * b, false],
  ['from the epoch', 0, last + 1, true],
];

it.each([10_000, 60_000, 3_600_000, 86_400_000])('bucket %d ms: every window', async (b) => {
  const query = pg.createTimeseriesQuery(both.pg);
  const original = sqlite.createTimeseriesQuery(both.sqlite);
  for (const [name, from, to, nonEmpty] of windows(b)) {
    const want = original(from, to, b);
    expect(await query(from, to, b), name).toEqual(want);
    expect(want.length > 0, name).toBe(nonEmpty);
  }
});

it('counts every status, one bucket per non-empty interval', async () => {
  const want = sqlite.createTimeseriesQuery(both.sqlite)(first, last + 1, 3_600_000);
  expect(await pg.createTimeseriesQuery(both.pg)(first, last + 1, 3_600_000)).toEqual(want);
  const sum = (k: 'success' | 'failure' | 'warning') => want.reduce((n, b) => n + b[k], 0);
  expect(sum('success')).toBeGreaterThan(0);
  expect(sum('failure')).toBeGreaterThan(0);
  expect(sum('warning')).toBeGreaterThan(0);
  const total = both.sqlite.get<{ n: number }>(sql`select count(*) as n from operations`).n;
  expect(sum('success') + sum('failure') + sum('warning')).toBe(total);
});
