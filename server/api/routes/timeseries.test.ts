import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import { afterAll, describe, expect, it } from 'vitest';
import { sqliteAdminStore } from '../../store/admin-store.js';
import { openDatabase } from '../../store/db.js';
import { onApiError } from '../errors.js';
import { timeseriesRoutes } from './timeseries.js';

const db = openDatabase(join(mkdtempSync(join(tmpdir(), 'scimtap-ts-')), 't.db'));
afterAll(() => db.$client.close());

const T0 = Date.parse('2024-05-01T10:00:00.000Z');
const insert = db.$client.prepare(
  `insert into operations (time, duration_ms, http_method, path, resource_type, operation, provisioning_action, status)
   values (?, 5, 'GET', '/Users', 'User', 'lookup', 'other', ?)`,
);
for (const [offsetMs, status] of [
  [0, 'success'],
  [59_999, 'success'],
  [30_000, 'failure'],
  [60_000, 'warning'],
  [180_500, 'failure'],
  // outside the window asked for below
  [-1, 'success'],
  [600_000, 'success'],
] as const) {
  insert.run(T0 + offsetMs, status);
}

// Mounted as the admin app mounts it, with the one API error handler.
const app = new Hono()
  .onError(onApiError)
  .route('/', timeseriesRoutes({ store: sqliteAdminStore(db), clock: () => T0 + 5 * 60_000 }));
const get = async (qs: string) => {
  const res = await app.request(`/operations${qs}`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

describe('GET /api/timeseries/operations', () => {
  it('counts operations per bucket and status, non-empty buckets only, oldest first', async () => {
    const { status, body } = await get(
      `?from=${new Date(T0).toISOString()}&to=${new Date(T0 + 300_000).toISOString()}&bucket=60`,
    );
    expect(status).toBe(200);
    expect(body).toEqual({
      from: '2024-05-01T10:00:00.000Z',
      to: '2024-05-01T10:05:00.000Z',
      bucketSeconds: 60,
      buckets: [
        { time: '2024-05-01T10:00:00.000Z', success: 2, failure: 1, warning: 0 },
        { time: '2024-05-01T10:01:00.000Z', success: 0, failure: 0, warning: 1 },
        { time: '2024-05-01T10:03:00.000Z', success: 0, failure: 1, warning: 0 },
      ],
    });
  });

  it('defaults to the last 60 buckets ending at the next bucket boundary of the clock', async () => {
    const { body } = await get('');
    expect(body.to).toBe('2024-05-01T10:05:00.000Z');
    expect(body.from).toBe('2024-05-01T09:05:00.000Z');
    // the row 1 ms before T0 is inside the default window
    expect((body.buckets as { success: number }[])[0]).toMatchObject({
      time: '2024-05-01T09:59:00.000Z',
      success: 1,
    });
  });

  it('accepts epoch milliseconds and wider buckets', async () => {
    const { body } = await get(`?from=${T0}&to=${T0 + 600_000}&bucket=300`);
    expect(body.buckets).toEqual([{ time: '2024-05-01T10:00:00.000Z', success: 2, failure: 2, warning: 1 }]);
  });

  it.each([
    ['?bucket=1', /bucket/],
    ['?from=2024-05-01T10:00:00Z&to=2024-05-01T09:00:00Z', /before/],
    ['?from=2024-01-01T00:00:00Z&to=2024-05-01T00:00:00Z&bucket=60', /at most 1440 buckets/],
    ['?from=yesterday', /from/],
    ['?status=failure', /status|unrecognized/i],
  ])('rejects %s with 400', async (qs, message) => {
    const res = await app.request(`/operations${qs}`);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toMatch(message);
  });
});
