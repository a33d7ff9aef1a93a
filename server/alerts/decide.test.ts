import { describe, expect, it } from 'vitest';
import { evidenceFixture, incidentFixture } from '../../test/fixtures/incidents.js';
import { rulesSchema } from '../config.js';
import type { Evidence, Finding, RuleCode } from '../detect/types.js';
import { inhibitorOf, muteReason, shouldNotify, silenceFor } from './decide.js';
import { reconcile } from './lifecycle.js';
import type { Incident, NotifyReason, SentNotification, Silence } from './types.js';

const T = Date.UTC(2025, 0, 6, 9, 0, 0);
const H = 3_600_000;
const rules = rulesSchema.parse({});

const evidence = (lastSeen: number | null = T): Evidence => evidenceFixture({ lastSeen });

function incident(partial: Partial<Incident> = {}): Incident {
  return incidentFixture('credentials', {
    entraReason: 'EncounteredQuarantineException',
    summary: 'credentials rejected (401)',
    reasonKey: '401',
    evidence: evidence(),
    ...partial,
  });
}

const sent = (
  event: SentNotification['event'],
  createdAt = T,
  reasonKey: string | null = '401',
): SentNotification => ({
  event,
  createdAt,
  reasonKey,
});

describe('shouldNotify', () => {
  const cases: [string, Partial<Incident>, SentNotification | null, number, NotifyReason][] = [
    // a pending incident is not confirmed: nothing to say yet
    ['pending, never sent', { state: 'pending', firedAt: null }, null, T, 'none'],
    // firing for the first time: the one email that matters most
    ['firing, never sent', {}, null, T, 'first'],
    // already told, same reason, an hour later: quiet
    ['firing, sent 1 h ago', {}, sent('first'), T + H, 'none'],
    // already told, same reason, 24 h later: reminder
    ['firing, sent 24 h ago', {}, sent('first'), T + 24 * H, 'reminder'],
    // reminders repeat, counted from the last email (a reminder too)
    ['firing, last reminder 24 h ago', {}, sent('reminder', T + 24 * H), T + 48 * H, 'reminder'],
    // 23 h 59 min after the last reminder: not yet
    ['firing, last reminder 23 h 59 ago', {}, sent('reminder', T + 24 * H), T + 48 * H - 60_000, 'none'],
    // acknowledged: someone is on it, no reminders
    ['firing, acknowledged, 30 h', { acknowledgedAt: T + H }, sent('first'), T + 30 * H, 'none'],
    // the reason changed (401 → 403): new information, even when acknowledged
    [
      'firing, reason changed',
      { reasonKey: '403', acknowledgedAt: T + H },
      sent('first'),
      T + 2 * H,
      'reasonChanged',
    ],
    // after a reasonChanged email, the new reason is the baseline
    ['firing, reasonChanged sent', { reasonKey: '403' }, sent('reasonChanged', T, '403'), T + H, 'none'],
    // a resolved email was the last one yet the key fires: never go silent
    ['firing after a resolved email', {}, sent('resolved'), T + H, 'first'],
    // resolved after the firing email: close the loop
    ['resolved, first sent', { state: 'resolved', resolvedAt: T + H }, sent('first'), T + H, 'resolved'],
    // resolved after a reminder: close the loop too
    [
      'resolved, reminder sent',
      { state: 'resolved', resolvedAt: T + H },
      sent('reminder'),
      T + H,
      'resolved',
    ],
    // resolved, acknowledged: still say it is over
    ['resolved, acknowledged', { state: 'resolved', acknowledgedAt: T }, sent('first'), T + H, 'resolved'],
    // resolved, nobody was told it started (muted all along): nothing to close
    ['resolved, never sent', { state: 'resolved' }, null, T + H, 'none'],
    // resolved email already queued: never twice
    ['resolved, resolved sent', { state: 'resolved' }, sent('resolved'), T + 2 * H, 'none'],
  ];
  it.each(cases)('%s', (_name, partial, last, now, expected) => {
    expect(shouldNotify(incident(partial), last, now, rules)).toBe(expected);
  });

  it('honours rules.reminderHours', () => {
    // a 1-hour reminder interval fires after an hour
    expect(shouldNotify(incident(), sent('first'), T + H, { reminderHours: 1 })).toBe('reminder');
  });
});

function finding(rule: RuleCode = 'credentials', reasonKey = '401'): Finding {
  return {
    rule,
    severity: 'critical',
    scope: 'app',
    entraReason: null,
    summary: `${rule} summary`,
    reasonKey,
    evidence: evidence(),
  };
}

describe('reconcile (incident lifecycle)', () => {
  const slow = { ...rules, debounceSeconds: 60, recoverySeconds: 120 };
  const cases: {
    name: string;
    open: Partial<Incident>[];
    findings: Finding[];
    now: number;
    config?: typeof rules;
    expect: { open: Partial<Incident>[]; resolved?: number; dropped?: number };
  }[] = [
    // a new finding with no debounce fires at once
    {
      name: 'new finding, debounce 0',
      open: [],
      findings: [finding()],
      now: T,
      expect: { open: [{ state: 'firing', firedAt: T, id: null }] },
    },
    // with a debounce it waits as pending
    {
      name: 'new finding, debounce 60 s',
      open: [],
      findings: [finding()],
      now: T,
      config: slow,
      expect: { open: [{ state: 'pending', firedAt: null }] },
    },
    // pending that held for the debounce fires
    {
      name: 'pending held 60 s',
      open: [{ state: 'pending', firedAt: null, startedAt: T }],
      findings: [finding()],
      now: T + 60_000,
      config: slow,
      expect: { open: [{ state: 'firing', firedAt: T + 60_000 }] },
    },
    // pending not yet long enough stays pending
    {
      name: 'pending held 59 s',
      open: [{ state: 'pending', firedAt: null, startedAt: T }],
      findings: [finding()],
      now: T + 59_000,
      config: slow,
      expect: { open: [{ state: 'pending' }] },
    },
    // pending whose condition cleared is forgotten: a flap inside the debounce never fires
    {
      name: 'pending cleared',
      open: [{ state: 'pending', firedAt: null }],
      findings: [],
      now: T + 10_000,
      config: slow,
      expect: { open: [], dropped: 1 },
    },
    // firing whose condition cleared starts its recovery window
    {
      name: 'firing cleared',
      open: [{}],
      findings: [],
      now: T + 10_000,
      config: slow,
      expect: { open: [{ state: 'firing', clearedAt: T + 10_000 }] },
    },
    // still cleared, within the window
    {
      name: 'firing cleared 119 s',
      open: [{ clearedAt: T }],
      findings: [],
      now: T + 119_000,
      config: slow,
      expect: { open: [{ state: 'firing', clearedAt: T }] },
    },
    // cleared for the whole window: resolved
    {
      name: 'firing cleared 120 s',
      open: [{ clearedAt: T }],
      findings: [],
      now: T + 120_000,
      config: slow,
      expect: { open: [], resolved: 1 },
    },
    // the condition comes back inside the recovery window: same incident, still firing, window reset
    {
      name: 'flap inside recovery',
      open: [{ clearedAt: T }],
      findings: [finding()],
      now: T + 60_000,
      config: slow,
      expect: { open: [{ state: 'firing', clearedAt: null, firedAt: T, id: 1 }] },
    },
    // a new reason replaces the old one on the same incident
    {
      name: 'reason change',
      open: [{}],
      findings: [finding('credentials', '403')],
      now: T + 1000,
      expect: { open: [{ id: 1, reasonKey: '403' }] },
    },
    // two rules: two incidents; an unrelated open incident is untouched by another rule's finding
    {
      name: 'keys are rule + scope',
      open: [{}],
      findings: [finding('credentials'), finding('stalled', 'stalled')],
      now: T + 1000,
      expect: {
        open: [
          { id: 1, rule: 'credentials' },
          { id: null, rule: 'stalled', key: 'stalled:app' },
        ],
      },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const result = reconcile(
        c.open.map((p) => incident(p)),
        c.findings,
        c.now,
        c.config ?? rules,
      );
      expect(result.open).toHaveLength(c.expect.open.length);
      for (const [i, want] of c.expect.open.entries()) expect(result.open[i]).toMatchObject(want);
      expect(result.resolved).toHaveLength(c.expect.resolved ?? 0);
      expect(result.dropped).toHaveLength(c.expect.dropped ?? 0);
      for (const r of result.resolved) expect(r).toMatchObject({ state: 'resolved', resolvedAt: c.now });
    });
  }

  it('keeps the earliest firstSeen across evaluations', () => {
    const later = { ...finding(), evidence: { ...evidence(), firstSeen: T + H } };
    const [next] = reconcile([incident()], [later], T + H, rules).open;
    expect(next.evidence.firstSeen).toBe(T);
  });
});

describe('mute stages', () => {
  const silence = (partial: Partial<Silence> = {}): Silence => ({
    id: 7,
    rule: 'stuckObject',
    identity: null,
    comment: '',
    createdBy: 'ops',
    createdAt: T,
    expiresAt: T + H,
    endedAt: null,
    ...partial,
  });

  it.each([
    // credentials firing mutes the per-object and escrow noise
    ['escrowProportion', ['credentials'], 'credentials'],
    ['stuckObject', ['upstreamUnavailable'], 'upstreamUnavailable'],
    ['stalled', ['scimCompliance'], 'scimCompliance'],
    // root causes are never muted by each other
    ['credentials', ['upstreamUnavailable'], null],
    // tooManyDeletes is not a consequence of a bad token: never inhibited
    ['tooManyDeletes', ['credentials'], null],
    // backoffSuspected is the consequence admins must hear about
    ['backoffSuspected', ['credentials'], null],
    // a stall after a failing cycle is reported as the quarantine backoff it is
    ['stalled', ['backoffSuspected'], 'backoffSuspected'],
    // nothing firing, nothing muted
    ['escrowProportion', [], null],
  ] as [RuleCode, RuleCode[], RuleCode | null][])(
    'inhibitorOf(%s) with %j firing = %s',
    (rule, firing, expected) => {
      expect(inhibitorOf(rule, new Set(firing))).toBe(expected);
    },
  );

  it.each([
    // a rule-wide silence mutes the rule
    [silence(), { rule: 'stuckObject', scope: 'app' }, T, true],
    // another rule's silence does not
    [silence({ rule: 'stalled' }), { rule: 'stuckObject', scope: 'app' }, T, false],
    // an expired silence does not
    [silence(), { rule: 'stuckObject', scope: 'app' }, T + H, false],
    // a silence ended by DELETE does not
    [silence({ endedAt: T }), { rule: 'stuckObject', scope: 'app' }, T + 1, false],
    // an identity silence does not mute the grouped app-scoped incident (it removes that identity from it instead)
    [silence({ identity: 'ada@example.com' }), { rule: 'stuckObject', scope: 'app' }, T, false],
    // but it does mute an identity-scoped incident for that identity
    [
      silence({ identity: 'ada@example.com' }),
      { rule: 'stuckObject', scope: 'identity:User:ada@example.com' },
      T,
      true,
    ],
  ] as [Silence, Pick<Incident, 'rule' | 'scope'>, number, boolean][])(
    'silenceFor %#',
    (s, inc, now, muted) => {
      expect(silenceFor(inc, [s], now) !== null).toBe(muted);
    },
  );

  it('an incident inhibited earlier speaks once its inhibitor clears, whatever the age of its evidence', () => {
    // escrowProportion fired under scimCompliance at T + 1 h; scimCompliance resolved; the escrow share still holds
    const stillFiring = incident({
      rule: 'escrowProportion',
      inhibitedBy: 'scimCompliance',
      inhibitedAt: T + H,
      evidence: evidence(T),
    });
    expect(muteReason(stillFiring, new Set(['scimCompliance'] as RuleCode[]), [], T + H)).toMatchObject({
      by: 'inhibition',
      rule: 'scimCompliance',
    });
    expect(muteReason(stillFiring, new Set(), [], T + 2 * H)).toBeNull();
    expect(shouldNotify(stillFiring, null, T + 2 * H, { reminderHours: 24 })).toBe('first');
  });

  it.each([
    // a cycle failed by 401s, still over the escrow share after the token is fixed: credentials said it all
    ['credentials', [401], 'Unauthorized', true],
    // 500s under a credentials incident are not the token's doing
    ['credentials', [500], 'InternalServerError', false],
    // a mix: something beyond the root cause, so it speaks
    ['credentials', [401, 500], null, false],
    ['scimCompliance', [404], 'ScimCompliance', true],
    ['upstreamUnavailable', [503], 'InternalServerError', true],
  ] as [RuleCode, number[], string | null, boolean][])(
    'after %s clears, samples %j (%s) keep it muted: %s',
    (by, statuses, errorCode, muted) => {
      const base = evidence(T);
      const inc = incident({
        rule: 'escrowProportion',
        inhibitedBy: by,
        inhibitedAt: T + H,
        evidence: {
          ...base,
          samples: statuses.map((httpStatus, i) => ({
            id: i,
            time: T,
            httpMethod: 'PATCH',
            path: `/Users/${i}`,
            query: '',
            httpStatus,
            errorCode,
            reason: null,
            identity: null,
          })),
        },
      });
      expect(muteReason(inc, new Set(), [], T + 2 * H) !== null).toBe(muted);
    },
  );

  it('a resolved incident is not inhibited but is silenced', () => {
    const resolved = incident({ rule: 'stuckObject', state: 'resolved' });
    expect(muteReason(resolved, new Set(['credentials'] as RuleCode[]), [], T)).toBeNull();
    expect(muteReason(resolved, new Set(), [silence()], T)).toMatchObject({ by: 'silence' });
  });
});
