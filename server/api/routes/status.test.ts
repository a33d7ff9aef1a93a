import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import { createAlertEngine } from '../../alerts/engine.js';
import { firingIncidentViews } from '../../alerts/views.js';
import type { FiringIncident } from '../../cycles/health.js';
import { syntheticOperation as make } from '../../cycles/synthetic.js';
import { createHarness, type Harness } from '../../cycles/testing.js';
import type { Operation } from '../../scim/types.js';
import { sqliteAdminStore } from '../../store/admin-store.js';
import { activeSilences } from '../../store/queries/incidents.js';
import { idleRecorderStats } from '../../store/recorder.js';
import { onApiError } from '../errors.js';
import { statusRoutes } from './status.js';

// biome-ignore lint/suspicious/noExplicitAny: response bodies are read loosely; each field read is asserted
type Body = any;
const T0 = Date.UTC(2025, 0, 15, 9, 0, 0);
const MIN = 60_000;
const at = (m: number) => T0 + m * MIN;
const iso = (m: number) => new Date(at(m)).toISOString();

let h: Harness;
afterEach(() => h?.close());

/** /api/status at `minutes`, its incidents from the real alert engine evaluated then (as scimtap wires it). */
async function statusAt(minutes: number, firingIncidents?: () => Promise<FiringIncident[]>) {
  if (!firingIncidents) {
    const now = at(minutes);
    const engine = createAlertEngine({
      db: h.db,
      config: h.config,
      clock: () => now,
      logger: { info() {}, warn() {}, error() {} },
      recorderStats: idleRecorderStats,
      baseUrl: () => 'http://127.0.0.1:8081',
      sender: null,
    });
    engine.evaluate(now);
    firingIncidents = async () => firingIncidentViews(engine, activeSilences(h.db, now), now);
  }
  const app = new Hono().onError(onApiError).route(
    '/api/status',
    statusRoutes({
      store: sqliteAdminStore(h.db),
      config: h.config,
      clock: () => at(minutes),
      firingIncidents,
    }),
  );
  const res = await app.request('/api/status');
  return { status: res.status, body: (await res.json()) as Body };
}

const probe = (m: number, httpStatus = 200): Operation =>
  make({
    time: at(m),
    operation: 'testConnection',
    httpStatus,
    status: httpStatus === 200 ? 'success' : 'failure',
    errorCode: httpStatus === 401 ? 'Unauthorized' : null,
  });
const users = (from: number, n: number, fail = false): Operation[] =>
  Array.from({ length: n }, (_, i) =>
    make({
      time: at(from + i * 0.01),
      operation: 'create',
      identity: `user${from}-${i}`,
      targetId: fail ? null : `u-${from}-${i}`,
      httpStatus: fail ? 500 : 201,
      status: fail ? 'failure' : 'success',
      errorCode: fail ? 'InternalServerError' : null,
    }),
  );

describe('GET /api/status', () => {
  it('is idle before any traffic', async () => {
    h = createHarness();
    const { status, body } = await statusAt(0);
    expect(status).toBe(200);
    expect(body).toMatchObject({
      state: 'idle',
      basis: 'incidents',
      running: false,
      cycle: null,
      nextExpectedCycleAt: null,
      incidents: [],
    });
  });

  it('reflects a running initial cycle with its progress', async () => {
    h = createHarness({ env: { SCIMTAP_EXPECTED_OBJECTS: '200' } });
    h.ingest([probe(0), ...users(1, 50)]);
    const { body } = await statusAt(2);
    expect(body).toMatchObject({
      state: 'healthy',
      running: true,
      now: iso(2),
      cycle: {
        id: 1,
        kind: 'initial',
        state: 'running',
        startedAt: iso(0),
        total: 51,
        progress: { processed: 50, expected: 200, percent: 25 },
      },
      nextExpectedCycleAt: iso(40),
      failingIdentities: 0,
    });
    expect(body.reason).toMatch(/cycle 1 \(initial\) is running/);
    expect(body.cycle.progress.etaAt).toEqual(expect.any(String));
  });

  it('shows the last cycle and its failing identities; the state stays healthy while no rule fires', async () => {
    h = createHarness();
    h.ingest([probe(0), ...users(1, 20), ...users(2, 2, true)]);
    h.stage.closeStale(at(10));
    const { body } = await statusAt(12);
    // 2 failures of 23 calls: under every rule's threshold, so nothing Entra would act on
    expect(body).toMatchObject({
      state: 'healthy',
      reason: 'no firing incidents; cycle 1 completed',
      running: false,
      cycle: { id: 1, state: 'completed', failures: 2 },
      failingIdentities: 2,
      incidents: [],
    });
  });

  it('says stalled when no cycle comes, and suspects quarantine when the probe is refused: the rules decide', async () => {
    h = createHarness();
    h.ingest([probe(0), ...users(1, 5)]);
    h.stage.closeStale(at(10));
    expect((await statusAt(59)).body.state).toBe('healthy');
    const stalled = (await statusAt(61)).body;
    expect(stalled).toMatchObject({ state: 'stalled', nextExpectedCycleAt: iso(40) });
    expect(stalled.incidents.map((i: { rule: string }) => i.rule)).toEqual(['stalled']);
    // Entra's next cycle: its probe refused with 401 and nothing after it
    h.ingest([probe(80, 401)]);
    const { body } = await statusAt(81);
    expect(body).toMatchObject({
      state: 'quarantineSuspected',
      cycle: {
        id: 2,
        kind: 'incremental',
        probe: { httpStatus: 401, status: 'failure', errorCode: 'Unauthorized' },
      },
    });
    expect(body.incidents.map((i: { rule: string }) => i.rule)).toContain('credentials');
    expect(body.reason).toMatch(/401|credential|token/i);
  });

  it('takes the state from firing incidents when the incident engine is wired in', async () => {
    h = createHarness();
    h.ingest([probe(0), ...users(1, 5)]);
    const incidents = [
      { id: 3, rule: 'throttling', severity: 'warning', summary: '12% of calls answered 429' },
    ];
    const { body } = await statusAt(2, async () => incidents);
    expect(body).toMatchObject({
      state: 'degraded',
      reason: '12% of calls answered 429',
      basis: 'incidents',
      incidents,
      running: true,
    });
    expect((await statusAt(2, async () => [])).body).toMatchObject({
      state: 'healthy',
      reason: 'no firing incidents; cycle 1 (initial) is running',
    });
  });

  it('reads only the rollups: its cost does not grow with the operations table', async () => {
    h = createHarness();
    h.ingest([probe(0), ...users(1, 5)]);
    // a status answer must not depend on scanning operations: emptying that table changes nothing
    const before = (await statusAt(3)).body;
    h.db.$client.exec('delete from operations');
    expect((await statusAt(3)).body).toEqual(before);
  });
});
