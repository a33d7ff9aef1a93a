import { describe, expect, it } from 'vitest';
import type { Cycle, CycleDetail } from '../../types/api.js';
import { toFailureRate, toLatency } from './cycle-charts.js';
import { outcomeCounts } from './outcome-counts.js';

const cycle = (id: number, over: Partial<Cycle> = {}) =>
  ({
    id,
    kind: 'incremental',
    startedAt: new Date(Date.UTC(2024, 4, 1, 0, id)).toISOString(),
    total: 100,
    failures: 10,
    failureRate: 0.1,
    risk: 'failures',
    latency: { p50Ms: 20, p95Ms: 80, meanMs: 30, maxMs: 200 },
    ...over,
  }) as Cycle & CycleDetail;

describe('toFailureRate', () => {
  it('orders the API’s newest-first cycles oldest first and gives percent', () => {
    expect(
      toFailureRate([
        cycle(3, { failureRate: 0.5, failures: 50 }),
        cycle(2),
        cycle(1, { failureRate: 0, failures: 0, risk: 'clean' }),
      ]),
    ).toEqual([
      { label: '#1', cycleId: 1, failurePercent: 0, failures: 0, total: 100, risk: 'clean' },
      { label: '#2', cycleId: 2, failurePercent: 10, failures: 10, total: 100, risk: 'failures' },
      { label: '#3', cycleId: 3, failurePercent: 50, failures: 50, total: 100, risk: 'failures' },
    ]);
  });

  it('leaves out Test Connection events and empty cycles', () => {
    const points = toFailureRate([
      cycle(3, { kind: 'testConnection', total: 1, failures: 1 }),
      cycle(2, { total: 0 }),
      cycle(1),
    ]);
    expect(points.map((p) => p.cycleId)).toEqual([1]);
  });

  it('keeps a Test Connection whose probe failed: a skipped cycle that counts toward quarantine', () => {
    const points = toFailureRate([
      cycle(3, { kind: 'testConnection', total: 1, failures: 1, risk: 'quarantine' }),
      cycle(2, { kind: 'testConnection', total: 1, failures: 0, risk: 'clean' }),
      cycle(1),
    ]);
    expect(points.map((p) => [p.cycleId, p.risk])).toEqual([
      [1, 'failures'],
      [3, 'quarantine'],
    ]);
  });

  it('rounds to a tenth of a percent', () => {
    expect(toFailureRate([cycle(1, { failures: 1, total: 3 })])[0].failurePercent).toBe(33.3);
  });

  it('keeps the last `limit` cycles', () => {
    const many = Array.from({ length: 30 }, (_, i) => cycle(i + 1));
    const points = toFailureRate(many, 20);
    expect(points).toHaveLength(20);
    expect(points[0].cycleId).toBe(11);
    expect(points.at(-1)?.cycleId).toBe(30);
  });
});

describe('toLatency', () => {
  it('maps p50 and p95 per cycle, keeping unknowns as gaps', () => {
    expect(
      toLatency([cycle(2, { latency: { p50Ms: null, p95Ms: null, meanMs: null, maxMs: null } }), cycle(1)]),
    ).toEqual([
      { label: '#1', cycleId: 1, p50: 20, p95: 80 },
      { label: '#2', cycleId: 2, p50: null, p95: null },
    ]);
  });
});

describe('outcomeCounts', () => {
  it('maps operations to Entra’s created / updated / disabled / deleted and counts every failure', () => {
    expect(
      outcomeCounts({
        failures: 7,
        countsByOperation: {
          create: { success: 10, failure: 2, warning: 1 },
          update: { success: 4, failure: 1, warning: 0 },
          enable: { success: 1, failure: 0, warning: 0 },
          addMembers: { success: 3, failure: 0, warning: 0 },
          disable: { success: 2, failure: 0, warning: 0 },
          delete: { success: 1, failure: 4, warning: 0 },
          lookup: { success: 50, failure: 0, warning: 0 },
          testConnection: { success: 1, failure: 0, warning: 0 },
        },
      }),
    ).toEqual({ created: 11, updated: 8, disabled: 2, deleted: 1, failed: 7 });
  });

  it('is all zeros for an empty cycle', () => {
    expect(outcomeCounts({ failures: 0, countsByOperation: {} })).toEqual({
      created: 0,
      updated: 0,
      disabled: 0,
      deleted: 0,
      failed: 0,
    });
  });
});
