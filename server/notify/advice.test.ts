import { describe, expect, it } from 'vitest';
import { evidenceFixture, incidentFixture } from '../../test/fixtures/incidents.js';
import type { Incident } from '../alerts/types.js';
import { type RuleCode, ruleCodes } from '../detect/types.js';
import { adviceFor, tenantPathHint } from './advice.js';
import { renderIncidentEmail } from './email.js';

// Each rule's advice, read against the failure that produces it: the cause and the action must fit what the
// samples and details show, and no text may point at a part of the email that is not where it says.

const T = Date.UTC(2025, 0, 6, 9, 0, 0);

function incident(
  rule: RuleCode,
  sample: { path?: string; httpStatus?: number | null; errorCode?: string | null } = {},
  details: Incident['evidence']['details'] = {},
): Incident {
  const samples = [
    {
      id: 1,
      time: T,
      httpMethod: 'GET',
      path: sample.path ?? '/Users',
      query: 'filter=userName%20eq%20%22ada%40example.com%22',
      httpStatus: sample.httpStatus === undefined ? 500 : sample.httpStatus,
      errorCode: sample.errorCode === undefined ? 'InternalServerError' : sample.errorCode,
      reason: null,
      identity: 'ada@example.com',
    },
  ];
  return incidentFixture(rule, {
    evidence: evidenceFixture({
      sampleOperationIds: [1],
      samples,
      identities: [{ key: 'User:ada', name: 'ada@example.com', type: 'User', errorCode: null, reason: null }],
      identityCount: 1,
      details,
    }),
  });
}

const all = (a: ReturnType<typeof adviceFor>) => [a.title, a.entra, ...a.cause, ...a.action].join('\n');

describe('advice, per rule, against the failure that produces it', () => {
  // [rule, the failure (sample, details), must say, must not say]
  const cases: [
    RuleCode,
    Parameters<typeof incident>[1],
    Incident['evidence']['details'],
    RegExp[],
    RegExp[],
  ][] = [
    // a 401 with the token the app accepted before: expired or revoked, not "changed"
    [
      'credentials',
      { httpStatus: 401, errorCode: 'Unauthorized' },
      { httpStatus: 401, tokenFingerprints: ['aaaaaaaaaaaa'], lastGoodTokenFingerprint: 'aaaaaaaaaaaa' },
      [/HTTP 401/, /expired or been revoked/, /Secret Token/],
      [/HTTP 403/, /was changed/],
    ],
    // a 401 with a new token: the Secret Token was changed in Entra
    [
      'credentials',
      { httpStatus: 401, errorCode: 'Unauthorized' },
      {
        httpStatus: 401,
        tokenFingerprints: ['bbbbbbbbbbbb'],
        lastGoodTokenFingerprint: 'aaaaaaaaaaaa',
        tokenChanged: true,
      },
      [/was changed/, /fingerprint bbbbbbbbbbbb/],
      [/expired or been revoked/],
    ],
    // a 403: the token is known but lacks permission
    [
      'credentials',
      { httpStatus: 403, errorCode: 'InsufficientRights' },
      { httpStatus: 403 },
      [/HTTP 403/, /permission/],
      [/HTTP 401/],
    ],
    // filters answered 404 on the right path: the app is not compliant
    [
      'scimCompliance',
      { httpStatus: 404, errorCode: 'ScimCompliance' },
      {},
      [/ListResponse/, /vendor/],
      [/missing \/scim/, /repeats/],
    ],
    [
      'upstreamUnavailable',
      { httpStatus: 502, errorCode: 'UpstreamUnreachable' },
      {},
      [/unreachable|cannot be reached/, /ServiceProviderConfig/],
      [],
    ],
    ['escrowProportion', {}, { cycleId: 4 }, [/40%/, /mapping/], []],
    ['escrowTotal', {}, {}, [/40,000/, /escrow/], []],
    [
      'tooManyDeletes',
      { httpStatus: 204, errorCode: null },
      { cycleId: 7 },
      [/delete|disable/, /Prevent accidental deletion/],
      [],
    ],
    ['throttling', { httpStatus: 429, errorCode: 'TooManyRequests' }, {}, [/429/, /rate limit/], []],
    ['slowUpstream', { httpStatus: null, errorCode: 'Timeout' }, {}, [/slow/], []],
    ['stuckObject', { httpStatus: 409, errorCode: 'EntryConflict' }, {}, [/409/, /already exists/], []],
    ['stalled', { httpStatus: null, errorCode: null }, {}, [/40 minutes/, /Provisioning → Overview/], []],
    ['backoffSuspected', {}, { cycleId: 9 }, [/6 h, 12 h, 24 h/, /Restart provisioning/], []],
    ['recorderFailing', { httpStatus: null, errorCode: null }, {}, [/not affected/, /SCIMTAP_DB/], []],
    // a scanner's 401s: who is knocking and how to keep them out, never a quarantine warning or a token fix
    [
      'unrecognisedClients',
      { path: '/.env', httpStatus: 401, errorCode: 'Unauthorized' },
      { addresses: ['203.0.113.9 ×5'], paths: ['/.env ×1', '/ ×1'] },
      [/not affected/, /203\.0\.113\.9/, /\/\.env/, /SCIMTAP_TRUSTED_CLIENTS/, /AzureActiveDirectory/],
      [/quarantine(d|s)? the job/, /Restart provisioning/, /Secret Token/, /token- prefix/],
    ],
  ];

  it.each(cases)('%s: %j', (rule, sample, details, says, neverSays) => {
    const text = all(adviceFor(incident(rule, sample, details), { upstreamPath: '/scim/v2' }));
    for (const want of says) expect(text).toMatch(want);
    for (const never of neverSays) expect(text).not.toMatch(never);
  });

  it('covers every rule', () => {
    expect(new Set(cases.map((c) => c[0]))).toEqual(new Set(ruleCodes));
  });

  it('never points "below" or "above": the email places samples and identities before the advice', () => {
    for (const rule of ruleCodes) {
      const email = renderIncidentEmail(
        incident(rule),
        'first',
        { appName: 'App', baseUrl: 'https://x', adminTokenSet: false },
        T,
      );
      const advice = all(adviceFor(incident(rule)));
      expect(advice).not.toMatch(/\b(below|above)\b(?! Entra)/);
      // what the advice refers to is in the email before "What to do"
      const actionAt = email.text.indexOf('What to do');
      if (/sample requests/.test(advice))
        expect(email.text.indexOf('Sample requests')).toBeLessThan(actionAt);
      if (/affected identities/i.test(advice)) {
        expect(email.text.indexOf('Affected identities')).toBeLessThan(actionAt);
      }
    }
  });
});

describe('tenantPathHint: what the failing paths say about the Tenant URL', () => {
  it.each([
    // Tenant URL https://scimtap/scim/v2 and SCIMTAP_UPSTREAM https://app/scim/v2: forwarded /scim/v2/scim/v2/Users
    [['/scim/v2/Users'], '/scim/v2', /repeats \/scim\/v2/],
    // the same with /scim only
    [['/scim/Users'], '/scim', /repeats \/scim/],
    // neither the Tenant URL nor the upstream has a SCIM segment
    [['/Users'], '', /no \/scim segment/],
    [['/Users', '/Groups'], '/api', /no \/scim segment/],
    // a correct path says nothing about the path
    [['/Users'], '/scim/v2', null],
    // an app serving SCIM elsewhere (/scim2) is not called "missing"
    [['/Users'], '/scim2', null],
    // mixed samples: no diagnosis every sample agrees with
    [['/scim/v2/Users', '/Users'], '/scim/v2', null],
    // unknown upstream path: no diagnosis
    [['/scim/v2/Users'], undefined, null],
  ] as [string[], string | undefined, RegExp | null][])('%j under %j', (paths, base, expected) => {
    const hint = tenantPathHint(paths, base);
    if (expected === null) expect(hint).toBeNull();
    else expect(hint).toMatch(expected);
  });

  it('the scimCompliance advice says "repeats", never "missing", for a doubled path', () => {
    const a = adviceFor(incident('scimCompliance', { path: '/scim/v2/Users', httpStatus: 404 }), {
      upstreamPath: '/scim/v2',
    });
    expect(all(a)).toMatch(/repeats \/scim\/v2/);
    expect(all(a)).not.toMatch(/missing/);
  });
});
