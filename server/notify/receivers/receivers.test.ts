import { describe, expect, it } from 'vitest';
import type { Incident } from '../../alerts/types.js';
import { ruleCodes } from '../../detect/types.js';
import { maskUrl, parseRetryAfter, scrubber, urlSecrets } from './http.js';
import { routes } from './index.js';
import { dedupKey } from './pagerduty.js';
import { createSlackReceiver, slackEscape, slackLimits } from './slack.js';
import { createTeamsReceiver, teamsEscape } from './teams.js';
import { fingerprint, signWebhook } from './webhook.js';

const T = Date.UTC(2025, 0, 6, 9, 0, 0);
const ctx = { appName: 'Tanium SSO', baseUrl: 'https://scimtap.example.com', adminTokenSet: false };

/** An incident whose every captured value is as long and as hostile as it gets. */
function hugeIncident(rule: Incident['rule']): Incident {
  const long = `<!channel> *bold* [link](https://evil.example) ${'x'.repeat(20_000)}`;
  return {
    id: 7,
    key: `${rule}:app`,
    rule,
    scope: 'app',
    severity: 'critical',
    state: 'firing',
    entraReason: 'EncounteredQuarantineException',
    summary: long,
    reasonKey: 'r',
    evidence: {
      count: 1_234_567,
      firstSeen: T,
      lastSeen: T,
      sampleOperationIds: [],
      samples: [],
      identities: Array.from({ length: 20 }, (_, i) => ({
        key: `User:${i}`,
        name: long,
        type: 'User' as const,
      })),
      identityCount: 5000,
      details: { cycleId: 3, httpStatus: 401, tokenFingerprints: ['a'.repeat(12)] },
    },
    startedAt: T,
    firedAt: T,
    lastTrueAt: T,
    clearedAt: null,
    resolvedAt: null,
    acknowledgedAt: null,
    acknowledgedBy: long,
    ackComment: null,
    inhibitedBy: null,
    inhibitedAt: null,
    updatedAt: T,
  };
}

const slack = createSlackReceiver({
  type: 'slack',
  name: 'slack',
  url: 'https://hooks.slack.com/services/T0/B0/abcdefgh',
});
const teams = createTeamsReceiver({
  type: 'teams',
  name: 'teams',
  url: 'https://example.webhook.office.com/x',
});

describe('Slack blocks stay inside Slack’s limits for any incident', () => {
  it.each(ruleCodes)('%s', (rule) => {
    for (const event of ['first', 'reminder', 'resolved'] as const) {
      const body = JSON.parse(slack.render(hugeIncident(rule), event, ctx, T).body);
      expect(body.blocks.length).toBeLessThanOrEqual(slackLimits.blocks);
      expect(body.text.length).toBeLessThanOrEqual(3000);
      for (const b of body.blocks) {
        if (b.type === 'header') expect([...b.text.text].length).toBeLessThanOrEqual(slackLimits.header);
        if (b.type === 'section' && b.text)
          expect([...b.text.text].length).toBeLessThanOrEqual(slackLimits.section);
        if (b.fields) {
          expect(b.fields.length).toBeLessThanOrEqual(slackLimits.fields);
          for (const f of b.fields) expect([...f.text].length).toBeLessThanOrEqual(slackLimits.field);
        }
      }
      // `<!channel>` in a captured value must reach Slack's mrkdwn escaped, never as a mention (plain_text is literal)
      const mrkdwn = JSON.stringify(body.blocks).match(/"type":"mrkdwn","text":"(?:[^"\\]|\\.)*"/g) ?? [];
      expect(mrkdwn.length).toBeGreaterThan(3);
      for (const m of mrkdwn) expect(m).not.toContain('<');
    }
  });
});

describe('escaping', () => {
  it.each([
    // a mention and a link in Slack's syntax stay text
    ['<!channel> <https://x|y> & co', '&lt;!channel&gt; &lt;https://x|y&gt; &amp; co'],
  ])('slack %j', (input, out) => expect(slackEscape(input)).toBe(out));
  it.each([
    // a markdown link and emphasis in a card stay text
    ['[click](https://evil) *now*', '\\[click\\](https://evil) \\*now\\*'],
    // ordinary text (dates, hyphens) is left alone
    ['2025-01-06 09:00 UTC', '2025-01-06 09:00 UTC'],
  ])('teams %j', (input, out) => expect(teamsEscape(input)).toBe(out));

  it('a Teams card escapes captured values and keeps its size down', () => {
    const raw = teams.render(hugeIncident('credentials'), 'first', ctx, T).body;
    expect(raw.length).toBeLessThan(28_000);
    expect(raw).not.toContain('[link](https://evil.example)');
  });
});

describe('parseRetryAfter', () => {
  it.each([
    // delta-seconds
    ['120', 120_000],
    // an HTTP date 90 s ahead
    [new Date(T + 90_000).toUTCString(), 90_000],
    // a past date, zero or garbage: no opinion
    [new Date(T - 1000).toUTCString(), null],
    ['0', null],
    ['soon', null],
    // a hostile week is capped at an hour
    ['604800', 3_600_000],
  ])('%j → %j', (value, ms) => expect(parseRetryAfter(value, T)).toBe(ms));
  it('absent', () => expect(parseRetryAfter(null, T)).toBeNull());
});

describe('secrets', () => {
  const url = 'https://hooks.slack.com/services/T000/B000/XXXXsecretXXXX';
  it('a secret URL shows as its host and last 4 characters', () => {
    expect(maskUrl(url)).toBe('hooks.slack.com …XXXX');
  });
  it('an answer that echoes the URL, its path or its encoded form loses them', () => {
    const scrub = scrubber(urlSecrets(url));
    expect(scrub(`bad url ${url}`)).toBe('bad url [secret]');
    expect(scrub('no hook /services/T000/B000/XXXXsecretXXXX here')).toBe('no hook [secret] here');
    expect(scrub(encodeURIComponent(url))).toBe('[secret]');
  });
});

describe('routes', () => {
  const warning = { severity: 'warning', rule: 'stalled' } as const;
  const critical = { severity: 'critical', rule: 'credentials' } as const;
  const low = { severity: 'low', rule: 'unrecognisedClients' } as const;
  it.each([
    // low: scanners knocking reach nobody by default, so no quarantine-grade receiver hears of them
    [undefined, low, false],
    [{}, low, false],
    [{ severities: ['critical' as const, 'warning' as const] }, low, false],
    // ... only a route that asks for the severity or the rule
    [{ severities: ['low' as const] }, low, true],
    [{ rules: ['unrecognisedClients' as const] }, low, true],
    // no route: everything
    [undefined, warning, true],
    // severities only
    [{ severities: ['critical' as const] }, warning, false],
    [{ severities: ['critical' as const] }, critical, true],
    // rules only
    [{ rules: ['credentials' as const] }, warning, false],
    // both must match
    [{ severities: ['critical' as const], rules: ['stalled' as const] }, critical, false],
  ])('%j, %j → %s', (route, incident, expected) => expect(routes(route, incident)).toBe(expected));
});

describe('Alertmanager compatibility', () => {
  it('fingerprint is FNV-1a 64 over sorted labels, as Alertmanager computes it', () => {
    // prometheus/common: the empty label set hashes to the FNV offset basis
    expect(fingerprint({})).toBe('cbf29ce484222325');
    expect(fingerprint({ b: '2', a: '1' })).toBe(fingerprint({ a: '1', b: '2' }));
    expect(fingerprint({ a: '1' })).not.toBe(fingerprint({ a: '2' }));
  });
  it('the webhook signature covers the timestamp and the body', () => {
    const s = signWebhook('0123456789abcdef', 1700000000, '{}');
    expect(s).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(signWebhook('0123456789abcdef', 1700000001, '{}')).not.toBe(s);
  });
  it('a PagerDuty dedup_key is the incident key and id', () => {
    expect(dedupKey({ key: 'credentials:app', id: 4 })).toBe('scimtap:credentials:app#4');
  });
});
