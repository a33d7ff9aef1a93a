import { describe, expect, it } from 'vitest';
import { rulesSchema } from '../config.js';
import {
  deriveHealth,
  type HealthCycle,
  type HealthInput,
  healthFromIncidents,
  nextExpectedAt,
} from './health.js';

const T0 = Date.UTC(2025, 0, 15, 9, 0, 0);
const MIN = 60_000;
const rules = rulesSchema.parse({});

const cycle = (over: Partial<HealthCycle> = {}): HealthCycle => ({
  id: 7,
  kind: 'incremental',
  state: 'completed',
  startedAt: T0,
  endedAt: T0 + 5 * MIN,
  probeStatus: 200,
  probeOutcome: 'success',
  probeErrorCode: null,
  total: 100,
  failures: 0,
  deletes: 0,
  throttled: 0,
  ...over,
});

const base: HealthInput = {
  latest: cycle(),
  lastScheduled: cycle(),
  failingIdentities: 0,
  stuckIdentities: 0,
  now: T0 + 10 * MIN,
  intervalMs: 40 * MIN,
  rules,
};

describe('deriveHealth', () => {
  const cases: { name: string; input: Partial<HealthInput>; state: string; reason?: RegExp }[] = [
    // nothing recorded at all
    { name: 'no traffic', input: { latest: null, lastScheduled: null }, state: 'idle' },
    // only an admin's Test Connection so far
    {
      name: 'only a Test Connection',
      input: { latest: cycle({ kind: 'testConnection', total: 1 }), lastScheduled: null },
      state: 'idle',
    },
    // the last cycle went through
    { name: 'a clean cycle', input: {}, state: 'healthy', reason: /completed without failures/ },
    // a cycle running with no failures
    {
      name: 'a running cycle',
      input: {
        latest: cycle({ id: 8, state: 'running' }),
        lastScheduled: cycle({ id: 8, state: 'running' }),
      },
      state: 'healthy',
      reason: /cycle 8 .* running/,
    },
    // a few failures
    {
      name: 'some failures',
      input: { latest: cycle({ failures: 3 }), lastScheduled: cycle({ failures: 3 }) },
      state: 'degraded',
    },
    // identities that failed last time they were seen
    {
      name: 'failing identities',
      input: { failingIdentities: 2 },
      state: 'degraded',
      reason: /2 identities/,
    },
    // the cycle's probe refused: Entra quarantines on this
    {
      name: 'the probe refused with 401',
      input: {
        latest: cycle({ probeStatus: 401, probeOutcome: 'failure', failures: 1 }),
        lastScheduled: cycle({ probeStatus: 401, probeOutcome: 'failure', failures: 1 }),
      },
      state: 'quarantineSuspected',
      reason: /HTTP 401/,
    },
    // the probe answered 404: not SCIM-compliant
    {
      name: 'the probe answered 404',
      input: {
        lastScheduled: cycle({ probeStatus: 404, probeOutcome: 'failure', probeErrorCode: 'ScimCompliance' }),
      },
      state: 'quarantineSuspected',
      reason: /non-SCIM/,
    },
    // over the escrow proportion (40% with at least 10 failures)
    {
      name: 'escrow proportion',
      input: { lastScheduled: cycle({ failures: 45 }) },
      state: 'quarantineSuspected',
      reason: /45%/,
    },
    // half-way there
    {
      name: 'half the escrow proportion',
      input: { lastScheduled: cycle({ failures: 25 }) },
      state: 'atRisk',
    },
    // a big share but too few failures to count (Entra needs a minimum)
    {
      name: 'few failures in a tiny cycle',
      input: { lastScheduled: cycle({ total: 5, failures: 4 }) },
      state: 'degraded',
    },
    // no cycle for 2 h after a failing one: quarantine backoff
    {
      name: 'silence after a failing cycle',
      input: { lastScheduled: cycle({ failures: 2 }), now: T0 + 130 * MIN },
      state: 'quarantineSuspected',
      reason: /2 h after failing cycle/,
    },
    // no cycle when one was due (40 min + 20 min grace), last one was fine
    { name: 'stalled', input: { now: T0 + 61 * MIN }, state: 'stalled' },
    // within the grace period
    { name: 'late but within grace', input: { now: T0 + 59 * MIN }, state: 'healthy' },
    // many deletes and disables
    {
      name: 'too many deletes',
      input: { lastScheduled: cycle({ total: 900, deletes: 600 }) },
      state: 'atRisk',
    },
    // a 429 storm
    {
      name: 'throttling',
      input: { lastScheduled: cycle({ throttled: 12 }) },
      state: 'atRisk',
      reason: /429/,
    },
    // identities stuck for several cycles
    { name: 'stuck identities', input: { stuckIdentities: 3, failingIdentities: 3 }, state: 'atRisk' },
    // a refused Test Connection after a healthy cycle: the next cycle will fail
    {
      name: 'a refused Test Connection',
      input: {
        latest: cycle({
          id: 9,
          kind: 'testConnection',
          probeStatus: 401,
          probeOutcome: 'failure',
          total: 1,
          failures: 1,
        }),
      },
      state: 'atRisk',
    },
  ];
  it.each(cases)('$name → $state', ({ input, state, reason }) => {
    const h = deriveHealth({ ...base, ...input });
    expect(h.state).toBe(state);
    if (reason) expect(h.reason).toMatch(reason);
  });

  it('expects the next cycle an interval after the last start, or when a long cycle ends', () => {
    // 40 minutes after the start; a 3-hour initial cycle makes the next one due at its end
    expect(nextExpectedAt(cycle(), 40 * MIN)).toBe(T0 + 40 * MIN);
    expect(nextExpectedAt(cycle({ endedAt: T0 + 180 * MIN }), 40 * MIN)).toBe(T0 + 180 * MIN);
    expect(nextExpectedAt(null, 40 * MIN)).toBeNull();
  });
});

describe('healthFromIncidents', () => {
  const fallback = deriveHealth(base);
  it.each([
    // a credentials incident is what Entra quarantines on
    [
      [{ rule: 'credentials', severity: 'critical', summary: '401 on the probe' }],
      'quarantineSuspected',
      '401 on the probe',
    ],
    // the worst incident wins
    [
      [
        { rule: 'throttling', severity: 'warning' },
        { rule: 'stalled', severity: 'warning', summary: 'no cycle' },
      ],
      'stalled',
      'no cycle',
    ],
    // a critical incident that is not a quarantine reason
    [[{ rule: 'recorderFailing', severity: 'critical' }], 'atRisk', 'recorderFailing'],
    // a warning
    [[{ rule: 'stuckObject', severity: 'warning' }], 'degraded', 'stuckObject'],
    // none firing: healthy whatever the rollups say
    [[], 'healthy', 'no firing incidents'],
  ] as const)('%j → %s', (incidents, state, reason) => {
    expect(healthFromIncidents([...incidents], fallback)).toMatchObject({ state, reason });
  });

  it('stays idle with no traffic and no incidents', () => {
    // an engine with nothing firing does not make a fresh install look healthy
    const idle = deriveHealth({ ...base, latest: null, lastScheduled: null });
    expect(healthFromIncidents([], idle).state).toBe('idle');
  });
});
