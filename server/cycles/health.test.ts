import { describe, expect, it } from 'vitest';
import { baselineHealth, type HealthCycle, healthFromIncidents, nextExpectedAt } from './health.js';

const T0 = Date.UTC(2025, 0, 15, 9, 0, 0);
const MIN = 60_000;

const cycle = (over: Partial<HealthCycle> = {}): HealthCycle => ({
  id: 7,
  kind: 'incremental',
  state: 'completed',
  startedAt: T0,
  endedAt: T0 + 5 * MIN,
  ...over,
});
const base = { latest: cycle(), lastScheduled: cycle(), intervalMs: 40 * MIN };

describe('baselineHealth: the state when no incident fires', () => {
  it.each([
    // nothing recorded at all
    {
      name: 'no traffic',
      input: { latest: null, lastScheduled: null },
      state: 'idle',
      reason: /no SCIM traffic/,
    },
    // only an admin's Test Connection so far
    {
      name: 'only a Test Connection',
      input: { latest: cycle({ kind: 'testConnection' }), lastScheduled: null },
      state: 'idle',
      reason: /no provisioning cycle seen yet/,
    },
    // an on-demand run in progress before any scheduled cycle
    {
      name: 'an on-demand run in progress',
      input: { latest: cycle({ kind: 'onDemand', state: 'running' }), lastScheduled: null },
      state: 'healthy',
      reason: /onDemand run is in progress/,
    },
    { name: 'a completed cycle', input: {}, state: 'healthy', reason: /cycle 7 completed/ },
    {
      name: 'a running cycle',
      input: {
        latest: cycle({ id: 8, state: 'running' }),
        lastScheduled: cycle({ id: 8, state: 'running' }),
      },
      state: 'healthy',
      reason: /cycle 8 \(incremental\) is running/,
    },
  ] as const)('$name → $state', ({ input, state, reason }) => {
    const h = baselineHealth({ ...base, ...input });
    expect(h.state).toBe(state);
    expect(h.reason).toMatch(reason);
  });

  it('expects the next cycle an interval after the last start, or when a long cycle ends', () => {
    // 40 minutes after the start; a 3-hour initial cycle makes the next one due at its end
    expect(nextExpectedAt(cycle(), 40 * MIN)).toBe(T0 + 40 * MIN);
    expect(nextExpectedAt(cycle({ endedAt: T0 + 180 * MIN }), 40 * MIN)).toBe(T0 + 180 * MIN);
    expect(nextExpectedAt(null, 40 * MIN)).toBeNull();
    expect(baselineHealth(base).nextExpectedAt).toBe(T0 + 40 * MIN);
  });
});

describe('healthFromIncidents', () => {
  const baseline = baselineHealth(base);
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
    // unrecognised clients say nothing of provisioning's health
    [[{ rule: 'unrecognisedClients', severity: 'low' }], 'healthy', 'no firing incidents; cycle 7 completed'],
    // none firing: healthy, with the baseline's words
    [[], 'healthy', 'no firing incidents; cycle 7 completed'],
  ] as const)('%j → %s', (incidents, state, reason) => {
    expect(healthFromIncidents([...incidents], baseline)).toMatchObject({
      state,
      reason,
      nextExpectedAt: T0 + 40 * MIN,
    });
  });

  it('stays idle with no traffic and no incidents', () => {
    // an engine with nothing firing does not make a fresh install look healthy
    const idle = baselineHealth({ ...base, latest: null, lastScheduled: null });
    expect(healthFromIncidents([], idle).state).toBe('idle');
  });
});
