import { describe, expect, it } from 'vitest';
import type { OperationKind, ResourceType } from '../scim/types.js';
import {
  closeIfSilent,
  cycleKind,
  initialSegmentState,
  type KindFacts,
  type SegmentInput,
  segment,
} from './segment.js';

const T0 = Date.UTC(2025, 0, 15, 9, 0, 0);
const MIN = 60_000;
const opts = { gapMs: 5 * MIN };

type Event = { op: SegmentInput } | { tick: number };
const at = (minutes: number, operation: OperationKind, resourceType: ResourceType = 'User'): Event => ({
  op: { time: T0 + minutes * MIN, operation, resourceType },
});
const probe = (m: number) => at(m, 'testConnection');
const lookup = (m: number) => at(m, 'lookup');
const create = (m: number) => at(m, 'create');
const discovery = (m: number) => at(m, 'schemaDiscovery', 'Schema');
const tick = (m: number): Event => ({ tick: T0 + m * MIN });

/**
 * Replay events and name each operation's cycle 1, 2, 3... in the order they open (null: no cycle), with the
 * closes as `close:<reason>` markers, so a case reads as one line.
 */
function replay(events: Event[]): (number | null | string)[] {
  let state = initialSegmentState;
  let opened = 0;
  let current: number | null = null;
  const out: (number | null | string)[] = [];
  for (const e of events) {
    if ('tick' in e) {
      const r = closeIfSilent(state, e.tick, opts);
      state = r.state;
      if (r.close) {
        out.push('close:timer');
        current = null;
      }
      continue;
    }
    const { state: next, decision } = segment(state, e.op, opts);
    state = next;
    if (decision.close) {
      out.push(`close:${decision.close}`);
      current = null;
    }
    if (decision.open) current = ++opened;
    out.push(decision.join ? current : null);
  }
  return out;
}

describe('segment', () => {
  const cases: { name: string; events: Event[]; expected: (number | null | string)[] }[] = [
    {
      // the next cycle's probe after the usual 40-minute silence: the silence closes the first cycle
      name: 'back-to-back cycles separated by a silence',
      events: [probe(0), lookup(0.1), create(0.2), probe(40), lookup(40.1)],
      expected: [1, 1, 1, 'close:silence', 2, 2],
    },
    {
      // a probe with no silence before it still starts a new cycle (the previous one closes at the probe)
      name: 'back-to-back cycles with no silence',
      events: [probe(0), lookup(1), create(3), probe(4), lookup(4.5)],
      expected: [1, 1, 1, 'close:probe', 2, 2],
    },
    {
      // a long initial cycle with a 4.5-minute pause (Entra paging) stays one cycle
      name: 'a gap shorter than the threshold inside a long initial cycle',
      events: [probe(0)]
        .concat(Array.from({ length: 30 }, (_, i) => create(1 + i)))
        .concat(Array.from({ length: 20 }, (_, i) => lookup(34.5 + i * 4.9))),
      expected: Array(51).fill(1),
    },
    {
      // traffic that resumes after exactly the threshold opens a cycle without a probe
      name: 'traffic resuming after the gap opens a new cycle',
      events: [probe(0), lookup(1), create(6)],
      expected: [1, 1, 'close:silence', 2],
    },
    {
      // a lone Test Connection is a cycle of its own, closed by the timer once the silence has passed
      name: 'a lone Test Connection',
      events: [probe(0), tick(4.9), tick(5)],
      expected: [1, 'close:timer'],
    },
    {
      // the admin opening provisioning settings (schema discovery) joins the probe's cycle and opens none
      name: 'discovery joins a running cycle but never opens one',
      events: [probe(0), discovery(0.5), tick(10), discovery(20)],
      expected: [1, 1, 'close:timer', null],
    },
    {
      // on demand: a probe followed by one user's lookup and create is one cycle
      name: 'an on-demand run',
      events: [probe(13), lookup(13.05), create(13.1), tick(19)],
      expected: [1, 1, 1, 'close:timer'],
    },
    {
      // the probe's 401 does not change segmentation: traffic after it (Entra sometimes goes on) joins its cycle
      name: 'a probe that fails with 401 followed by traffic',
      events: [probe(0), lookup(0.2), lookup(0.3)],
      expected: [1, 1, 1],
    },
    {
      // a slow request recorded after faster ones (its start is earlier) stays in the running cycle
      name: 'a small step back in time (a slow request recorded late)',
      events: [probe(0), lookup(1), lookup(0.5), lookup(5.8), lookup(11)],
      expected: [1, 1, 1, 1, 'close:silence', 2],
    },
    {
      // the clock jumping back an hour mid-cycle: no crash, same cycle, silences measured on the new timeline
      name: 'the clock jumps back while a cycle runs',
      events: [probe(60), lookup(61), lookup(2), lookup(3), lookup(9)],
      expected: [1, 1, 1, 1, 'close:silence', 2],
    },
    {
      // after a cycle closed, operations stamped inside its time range open a new cycle: old ones are never reopened
      name: 'the clock jumps back after a cycle closed',
      events: [probe(60), lookup(61), tick(70), lookup(60.5), lookup(61)],
      expected: [1, 1, 'close:timer', 2, 2],
    },
    {
      // the clock jumping forward past the gap looks like a silence: the cycle is split
      name: 'the clock jumps forward',
      events: [probe(0), lookup(1), lookup(200), lookup(200.5)],
      expected: [1, 1, 'close:silence', 2, 2],
    },
    {
      // the wall clock far behind the last operation (jumped back): the timer measures the silence from then on
      name: 'the timer after the wall clock jumped back',
      events: [probe(60), lookup(61), tick(0), tick(4), tick(5)],
      expected: [1, 1, 'close:timer'],
    },
    {
      // nothing runs and nothing closes before the first operation
      name: 'the timer with no cycle',
      events: [tick(100)],
      expected: [],
    },
  ];
  it.each(cases)('$name', ({ events, expected }) => {
    expect(replay(events)).toEqual(expected);
  });

  it('keeps the latest time for a small step back and adopts a big one', () => {
    // endedAt must not move backwards for a late-recorded slow request, and must follow a real clock jump
    let s = segment(
      initialSegmentState,
      { time: T0, operation: 'testConnection', resourceType: 'User' },
      opts,
    ).state;
    s = segment(s, { time: T0 + 2 * MIN, operation: 'lookup', resourceType: 'User' }, opts).state;
    s = segment(s, { time: T0 + MIN, operation: 'lookup', resourceType: 'User' }, opts).state;
    expect(s.running?.lastTime).toBe(T0 + 2 * MIN);
    s = segment(s, { time: T0 - 60 * MIN, operation: 'lookup', resourceType: 'User' }, opts).state;
    expect(s.running?.lastTime).toBe(T0 - 60 * MIN);
    expect(s.running?.startedAt).toBe(T0);
  });

  it('marks a probe-only cycle until provisioning traffic joins', () => {
    // a Test Connection stays probe-only through discovery; the first user operation makes it provisioning
    let s = segment(
      initialSegmentState,
      { time: T0, operation: 'testConnection', resourceType: 'User' },
      opts,
    ).state;
    s = segment(s, { time: T0 + 1000, operation: 'schemaDiscovery', resourceType: 'Schema' }, opts).state;
    expect(s.running).toMatchObject({ probe: true, provisioning: false });
    s = segment(s, { time: T0 + 2000, operation: 'lookup', resourceType: 'Group' }, opts).state;
    expect(s.running).toMatchObject({ probe: true, provisioning: true });
  });
});

describe('cycleKind', () => {
  const base: KindFacts = {
    probe: true,
    provisioningOps: 0,
    objects: 0,
    lookups: 0,
    knownIdentities: 100,
    firstSeen: false,
    previousStart: T0 - 40 * MIN,
    startedAt: T0,
    intervalMs: 40 * MIN,
  };
  const cases: { name: string; facts: Partial<KindFacts>; kind: string }[] = [
    // an admin's Test Connection ten minutes after a cycle
    { name: 'a lone probe off schedule', facts: { previousStart: T0 - 10 * MIN }, kind: 'testConnection' },
    // a fresh install: the first probe seen cannot be on a schedule
    {
      name: 'a lone probe with no history',
      facts: { previousStart: null, firstSeen: true },
      kind: 'testConnection',
    },
    // a quiet tenant: Entra's scheduled cycle found nothing to change
    { name: 'a lone probe on schedule', facts: {}, kind: 'incremental' },
    // provision on demand between scheduled cycles
    {
      name: 'a probe and one object off schedule',
      facts: { previousStart: T0 - 12 * MIN, provisioningOps: 2, objects: 1, lookups: 1 },
      kind: 'onDemand',
    },
    // the same shape on Entra's cadence is an incremental cycle with one change
    {
      name: 'a probe and one object on schedule',
      facts: { provisioningOps: 2, objects: 1, lookups: 1 },
      kind: 'incremental',
    },
    // the first cycle with traffic for several objects is initial
    {
      name: 'the first cycle seen',
      facts: { firstSeen: true, previousStart: T0 - 40 * MIN, provisioningOps: 50, objects: 20, lookups: 20 },
      kind: 'initial',
    },
    // a restart of provisioning: lookups for most known identities
    {
      name: 'lookups covering most identities',
      facts: { provisioningOps: 200, objects: 60, lookups: 60 },
      kind: 'initial',
    },
    // a normal incremental cycle: a handful of changes
    { name: 'a few changes', facts: { provisioningOps: 12, objects: 5, lookups: 5 }, kind: 'incremental' },
    // traffic after a silence with no probe (Entra resumed paging) is never on demand
    {
      name: 'traffic without a probe',
      facts: { probe: false, previousStart: T0 - 6 * MIN, provisioningOps: 1, objects: 1 },
      kind: 'incremental',
    },
  ];
  it.each(cases)('$name', ({ facts, kind }) => {
    expect(cycleKind({ ...base, ...facts })).toBe(kind);
  });
});
