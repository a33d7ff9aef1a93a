import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syntheticOperation as make } from '../../cycles/synthetic.js';
import { createHarness, type Harness } from '../../cycles/testing.js';
import type { Operation } from '../../scim/types.js';
import { sqliteAdminStore } from '../../store/admin-store.js';
import { onApiError } from '../errors.js';
import { cycleRoutes } from './cycles.js';

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

const probe = (m: number, httpStatus = 200): Operation =>
  make({
    time: at(m),
    operation: 'testConnection',
    httpStatus,
    status: httpStatus === 200 ? 'success' : 'failure',
  });
const lookup = (m: number, name: string, durationMs: number): Operation =>
  make({ time: at(m), operation: 'lookup', identity: name, durationMs });

beforeAll(() => {
  h = createHarness({ env: { SCIMTAP_EXPECTED_OBJECTS: '40' } });
  // cycle 1: initial, 20 users looked up and created, 100 ms lookups and one slow 2 s create
  const initial: Operation[] = [probe(0)];
  for (let i = 0; i < 20; i++) {
    initial.push(lookup(0.1 + i * 0.1, `user${i}`, 100));
    initial.push(
      make({
        time: at(0.15 + i * 0.1),
        operation: 'create',
        httpMethod: 'POST',
        identity: `user${i}`,
        targetId: `u-${i}`,
        httpStatus: 201,
        durationMs: i === 0 ? 2000 : 100,
      }),
    );
  }
  h.ingest(initial);
  // cycle 2: a Test Connection; cycles 3 and 4: incremental, the second with failures
  h.ingest([probe(10)]);
  h.ingest([probe(40), make({ time: at(40.1), operation: 'update', targetId: 'u-1', durationMs: 50 })]);
  h.ingest([
    probe(80),
    ...[1, 2, 3].map((i) =>
      make({
        time: at(80 + i * 0.1),
        operation: 'update',
        targetId: `u-${i}`,
        httpStatus: 500,
        status: 'failure',
        errorCode: 'InternalServerError',
      }),
    ),
  ]);
  app = new Hono()
    .onError(onApiError)
    .route('/api/cycles', cycleRoutes({ store: sqliteAdminStore(h.db), rules: h.config.rules }));
});
afterAll(() => h.close());

describe('GET /api/cycles', () => {
  it('lists cycles newest first with their rollups', async () => {
    const { status, body } = await get('/api/cycles');
    expect(status).toBe(200);
    expect(body.items.map((c: Body) => [c.id, c.kind, c.state])).toEqual([
      [4, 'incremental', 'running'],
      [3, 'incremental', 'completed'],
      [2, 'testConnection', 'completed'],
      [1, 'initial', 'completed'],
    ]);
    expect(body.items[0]).toMatchObject({
      startedAt: new Date(at(80)).toISOString(),
      total: 4,
      failures: 3,
      failureRate: 0.75,
      failing: true,
      usersTouched: 3,
      probe: { httpStatus: 200, status: 'success' },
    });
    expect(body.nextCursor).toBeNull();
  });

  it("gives each cycle's risk by the configured escrow thresholds", async () => {
    // 3 of 4 calls failed: over the 40% share but under the 10 failures the escrow rule needs, so amber
    const risks = (await get('/api/cycles')).body.items.map((c: Body) => [c.id, c.risk]);
    expect(risks).toEqual([
      [4, 'failures'],
      [3, 'clean'],
      [2, 'clean'],
      [1, 'clean'],
    ]);
    expect((await get('/api/cycles/4')).body).toMatchObject({ risk: 'failures', authFailures: 0 });
    // the same cycle judged with a lower minimum of failures counts toward quarantine
    const strict = new Hono().route(
      '/api/cycles',
      cycleRoutes({
        store: sqliteAdminStore(h.db),
        rules: { ...h.config.rules, escrowProportionMinFailures: 3 },
      }),
    );
    const res = await strict.request('/api/cycles/4');
    expect(((await res.json()) as Body).risk).toBe('quarantine');
  });

  it('pages with limit and an opaque cursor, without overlap', async () => {
    const first = await get('/api/cycles?limit=3');
    expect(first.body.items.map((c: Body) => c.id)).toEqual([4, 3, 2]);
    expect(typeof first.body.nextCursor).toBe('string');
    const second = await get(`/api/cycles?limit=3&cursor=${first.body.nextCursor}`);
    expect(second.body.items.map((c: Body) => c.id)).toEqual([1]);
    expect(second.body.nextCursor).toBeNull();
  });

  it('filters by kind and state', async () => {
    expect((await get('/api/cycles?kind=incremental')).body.items.map((c: Body) => c.id)).toEqual([4, 3]);
    expect((await get('/api/cycles?kind=testConnection')).body.items.map((c: Body) => c.id)).toEqual([2]);
    expect((await get('/api/cycles?state=running')).body.items.map((c: Body) => c.id)).toEqual([4]);
    expect((await get('/api/cycles?state=completed&kind=initial')).body.items.map((c: Body) => c.id)).toEqual(
      [1],
    );
  });

  it.each([
    // limit above the contract's 1,000
    ['limit=1001', /limit/],
    ['limit=0', /limit/],
    // a cursor this API never returned
    ['cursor=bogus', /cursor/],
    ['kind=weekly', /kind/],
    ['state=paused', /state/],
    // a misspelt parameter is refused rather than silently ignored
    ['knd=initial', /knd/],
  ])('answers 400 to %s', async (qs, message) => {
    const { status, body } = await get(`/api/cycles?${qs}`);
    expect(status).toBe(400);
    expect(body.error).toBe('badRequest');
    expect(body.message).toMatch(message);
  });
});

describe('GET /api/cycles/:id', () => {
  it('returns one cycle with counts, latency percentiles and progress', async () => {
    const { status, body } = await get('/api/cycles/1');
    expect(status).toBe(200);
    expect(body).toMatchObject({
      id: 1,
      kind: 'initial',
      state: 'completed',
      total: 41,
      successes: 41,
      failureRate: 0,
      usersTouched: 20,
      processedObjects: 20,
      expectedObjects: 40,
      countsByOperation: {
        testConnection: { success: 1, failure: 0, warning: 0 },
        lookup: { success: 20, failure: 0, warning: 0 },
        create: { success: 20, failure: 0, warning: 0 },
      },
      progress: { processed: 20, expected: 40, percent: 50, etaMs: null },
    });
    // 39 of 41 calls took 100 ms (the probe 40 ms, one create 2 s): p50 and p95 within a bucket (±10%) of
    // 100 ms, the slow create only in the max
    expect(Math.abs(body.latency.p50Ms - 100)).toBeLessThan(10);
    expect(Math.abs(body.latency.p95Ms - 100)).toBeLessThan(10);
    expect(body.latency.maxMs).toBe(2000);
    expect(body.latency.histogram.counts.reduce((a: number, b: number) => a + b, 0)).toBe(41);
    expect(body.progress.entraEstimate).toEqual({ units: 40, minMinutes: 0.4, maxMinutes: 3.2 });
  });

  it('gives the error codes of a failing cycle', async () => {
    const { body } = await get('/api/cycles/4');
    expect(body.countsByErrorCode).toEqual({ InternalServerError: 3 });
    expect(body.progress).toBeNull();
  });

  it('answers 404 for an unknown cycle and 400 for a bad id', async () => {
    expect((await get('/api/cycles/99')).status).toBe(404);
    expect((await get('/api/cycles/abc')).status).toBe(400);
  });
});
