import { describe, expect, it } from 'vitest';
import { incidentFixture } from '../../test/fixtures/incidents.js';
import type { Incident } from '../alerts/types.js';
import { CONTENT_SECURITY_POLICY, styleHash } from '../api/guard.js';
import { ruleCodes } from '../detect/types.js';
import { emailStyles, escapeHtml, oneLine, renderIncidentEmail, renderTestEmail } from './email.js';

const T = Date.UTC(2025, 0, 6, 9, 0, 0);
const ctx = { appName: 'Tanium SSO', baseUrl: 'https://scimtap.example.com', adminTokenSet: true };
const hostile = '<img src=x onerror=alert(1)>';

function credentialsIncident(partial: Partial<Incident> = {}): Incident {
  const samples = Array.from({ length: 5 }, (_, i) => ({
    id: 100 + i,
    time: T + i * 1000,
    httpMethod: 'PATCH',
    path: `/scim/v2/Users/${i}`,
    query: '',
    httpStatus: 401,
    errorCode: 'Unauthorized',
    reason: i === 0 ? `<script>alert("x")</script>` : 'token expired',
    identity: i === 0 ? hostile : `user${i}@example.com`,
  }));
  return incidentFixture('credentials', {
    id: 12,
    entraReason: 'EncounteredQuarantineException',
    summary: 'credentials rejected (401) — provisioning will be quarantined',
    reasonKey: '401',
    evidence: {
      count: 7,
      firstSeen: T,
      lastSeen: T + 4000,
      sampleOperationIds: samples.map((s) => s.id),
      samples,
      identities: Array.from({ length: 25 }, (_, i) => ({
        key: `User:u${i}`,
        name: i === 0 ? hostile : `user${i}@example.com`,
        type: 'User' as const,
        errorCode: 'Unauthorized',
        reason: 'token expired',
      })),
      identityCount: 31,
      details: {
        httpStatus: 401,
        tokenFingerprints: ['bbbbbbbbbbbb'],
        lastGoodTokenFingerprint: 'aaaaaaaaaaaa',
        tokenChanged: true,
      },
    },
    ...partial,
  });
}

describe('incident emails', () => {
  const email = renderIncidentEmail(credentialsIncident(), 'first', ctx, T);

  it('subject: state, severity, app, summary', () => {
    expect(email.subject).toBe(
      '[FIRING critical] Tanium SSO: credentials rejected (401) — provisioning will be quarantined',
    );
  });

  it('says what fails, since when, how many, and the Entra reason it resembles', () => {
    for (const body of [email.text, email.html]) {
      expect(body).toContain('2025-01-06 09:00 UTC');
      expect(body).toContain('7 occurrences');
      expect(body).toContain('EncounteredQuarantineException');
    }
  });

  it('lists up to 5 sample requests (method, path, status, error) and up to 20 identities', () => {
    expect(email.text).toContain('PATCH /scim/v2/Users/4  401  Unauthorized: token expired');
    expect(email.text.match(/PATCH \/scim\/v2\/Users\//g)).toHaveLength(5);
    expect(email.text).toContain('Affected identities (31, first 20 shown)');
    expect(email.text).toContain('user19@example.com');
    expect(email.text).not.toContain('user20@example.com');
  });

  it('gives the token hint and the fingerprint reading', () => {
    expect(email.text).toContain('token- prefix');
    expect(email.text).toContain('fingerprint bbbbbbbbbbbb');
    expect(email.text).toContain('(fingerprint aaaaaaaaaaaa)');
  });

  it('links the incident and the failing requests on the dashboard, and says how to silence', () => {
    expect(email.text).toContain('https://scimtap.example.com/incidents/12');
    expect(email.text).toContain(
      'https://scimtap.example.com/operations?status=failure&errorCode=Unauthorized',
    );
    expect(email.text).toContain('curl -X POST https://scimtap.example.com/api/silences');
    expect(email.text).toContain("Authorization: Bearer <admin token>'");
  });

  it('escapes every captured value in HTML', () => {
    expect(email.html).not.toContain(hostile);
    expect(email.html).not.toContain('<script>');
    expect(email.html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(email.html).toContain('&lt;script&gt;');
    expect(email.html.match(/<a href=/g)?.length).toBeGreaterThanOrEqual(2);
  });

  it('keeps the subject on one line whatever a summary holds', () => {
    const e = renderIncidentEmail(
      credentialsIncident({ summary: 'a\r\nBcc: victim@example.com' }),
      'first',
      ctx,
      T,
    );
    expect(e.subject).not.toMatch(/[\r\n]/);
  });

  it('resolved: a RESOLVED subject, no advice, no silence section', () => {
    const e = renderIncidentEmail(
      credentialsIncident({ state: 'resolved', resolvedAt: T + 3_600_000 }),
      'resolved',
      ctx,
      T,
    );
    expect(e.subject).toMatch(/^\[RESOLVED critical\] Tanium SSO: /);
    expect(e.text).toContain('Resolved at 2025-01-06 10:00 UTC');
    expect(e.text).not.toContain('What to do');
  });

  it('reminders and reason changes say so in the subject', () => {
    expect(renderIncidentEmail(credentialsIncident(), 'reminder', ctx, T).subject).toMatch(/\(reminder\)$/);
    expect(renderIncidentEmail(credentialsIncident(), 'reasonChanged', ctx, T).subject).toMatch(
      /\(changed\)$/,
    );
  });

  it('renders every rule with a cause, an action and a dashboard link', () => {
    for (const rule of ruleCodes) {
      const e = renderIncidentEmail(credentialsIncident({ rule, key: `${rule}:app` }), 'first', ctx, T);
      expect(e.text, rule).toContain('Likely cause');
      expect(e.text, rule).toContain('What to do');
      expect(e.text, rule).toMatch(
        /Links\n {2}Incident #12: https:\/\/scimtap\.example\.com\/incidents\/12\n {2}\S/,
      );
    }
  });
});

describe('helpers', () => {
  it.each([
    ['<a href="x">', '&lt;a href=&quot;x&quot;&gt;'],
    ["it's & `x`", 'it&#39;s &amp; &#96;x&#96;'],
  ])('escapeHtml(%s)', (input, out) => {
    expect(escapeHtml(input)).toBe(out);
  });

  it('oneLine folds control characters and cuts long text', () => {
    expect(oneLine('a\r\n\tb')).toBe('a b');
    expect(oneLine('x'.repeat(20), 10)).toBe(`${'x'.repeat(9)}…`);
  });

  it('the test email names the app and links the dashboard', () => {
    const e = renderTestEmail(ctx, T, 'ops@example.com');
    expect(e.subject).toBe('[TEST] Tanium SSO: scimtap notification test');
    expect(e.text).toContain('https://scimtap.example.com/');
  });
});

describe('the dashboard’s email viewer', () => {
  it('may show every inline style an email carries: each is allowed by hash in the CSP, and nothing else is', () => {
    const events = ['first', 'reasonChanged', 'reminder', 'resolved'] as const;
    const html = [
      ...events.map((event) => renderIncidentEmail(credentialsIncident(), event, ctx, T).html),
      renderTestEmail(ctx, T, 'ops@example.com').html,
    ].join('\n');
    const used = [...html.matchAll(/\sstyle="([^"]*)"/g)].map((m) => m[1]);
    expect(new Set(used)).toEqual(new Set(Object.values(emailStyles)));
    // `<style>` elements would need 'unsafe-inline': an email has none.
    expect(html).not.toMatch(/<style/i);
    const policy = CONTENT_SECURITY_POLICY;
    expect(policy.styleSrcAttr).toEqual(["'unsafe-hashes'", ...used.map(styleHash).filter(unique)]);
    expect(policy.styleSrc).toEqual(["'self'"]);
  });
});

function unique<T>(value: T, index: number, all: T[]): boolean {
  return all.indexOf(value) === index;
}
