import { describe, expect, it } from 'vitest';
import { evidenceFixture, incidentFixture } from '../../test/fixtures/incidents.js';
import { rulesSchema } from '../config.js';
import type { RuleCode } from '../detect/types.js';
import { markInhibition, type NotifyContext, notifyDecision } from './stages.js';
import type { Incident, SentNotification, Silence } from './types.js';

const T = Date.UTC(2025, 0, 6, 9, 0, 0);
const H = 3_600_000;
const rules = rulesSchema.parse({});

function incident(partial: Partial<Incident> = {}): Incident & { id: number } {
  return incidentFixture('escrowProportion', {
    entraReason: 'EncounteredEscrowProportionThreshold',
    summary: '48% of a cycle’s calls failed',
    reasonKey: 'escrow',
    evidence: evidenceFixture({ count: 10 }),
    ...partial,
  });
}

const silence: Silence = {
  id: 1,
  rule: 'escrowProportion',
  identity: null,
  comment: 'known',
  createdBy: 'ada',
  createdAt: T - H,
  expiresAt: T + H,
  endedAt: null,
};

function ctx(partial: Partial<NotifyContext> & { last?: SentNotification | null } = {}): NotifyContext {
  const { last = null, ...rest } = partial;
  return { now: T, rules, firing: new Set(), silences: [], lastSent: () => last, ...rest };
}

describe('notify stages: inhibit → silence → dedupe → queue', () => {
  it.each([
    // nothing said yet, nothing mutes it: queued as the first email
    { name: 'first', incident: incident(), ctx: ctx(), expected: { stage: 'queue', reason: 'first' } },
    // the token is rejected: the escrow share is its consequence, the credentials email says it all
    {
      name: 'inhibited by credentials',
      incident: incident(),
      ctx: ctx({ firing: new Set<RuleCode>(['credentials', 'escrowProportion']) }),
      expected: { stage: 'inhibit', by: 'credentials' },
    },
    // inhibition is checked first: a silenced and inhibited incident stops at inhibit
    {
      name: 'inhibited and silenced',
      incident: incident(),
      ctx: ctx({ firing: new Set<RuleCode>(['credentials']), silences: [silence] }),
      expected: { stage: 'inhibit', by: 'credentials' },
    },
    // a person silenced the rule
    {
      name: 'silenced',
      incident: incident(),
      ctx: ctx({ silences: [silence] }),
      expected: { stage: 'silence' },
    },
    // a resolved incident is never inhibited: closing the loop is not noise
    {
      name: 'resolved while the inhibitor fires',
      incident: incident({ state: 'resolved' }),
      ctx: ctx({
        firing: new Set<RuleCode>(['credentials']),
        last: { event: 'first', reasonKey: 'escrow', createdAt: T },
      }),
      expected: { stage: 'queue', reason: 'resolved' },
    },
    // already said, same reason, within the reminder interval
    {
      name: 'already said',
      incident: incident(),
      ctx: ctx({ last: { event: 'first', reasonKey: 'escrow', createdAt: T - H } }),
      expected: { stage: 'dedupe' },
    },
  ])('$name', ({ incident: i, ctx: c, expected }) => {
    expect(notifyDecision(i, c)).toMatchObject(expected);
  });

  it('markInhibition records the inhibitor on a firing incident only', () => {
    const firing = new Set<RuleCode>(['credentials']);
    const fired = incident();
    markInhibition(fired, firing, T);
    expect(fired).toMatchObject({ inhibitedBy: 'credentials', inhibitedAt: T });
    const resolved = incident({ state: 'resolved' });
    markInhibition(resolved, firing, T);
    expect(resolved.inhibitedBy).toBeNull();
  });
});
