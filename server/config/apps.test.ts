import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../config.js';
import { appDb, appsOf, forApp, SINGLE_APP_ID } from './apps.js';

/** loadConfig with the JSON file `file` (SCIMTAP_CONFIG) and `env`; other files: `files`. */
function load(
  file: unknown,
  {
    env = {},
    files = {},
    command = 'serve',
  }: {
    env?: Record<string, string>;
    files?: Record<string, string>;
    command?: 'serve' | 'tool' | 'demo';
  } = {},
) {
  const all: Record<string, string> = { 'scimtap.json': JSON.stringify(file), ...files };
  return loadConfig(
    { SCIMTAP_CONFIG: 'scimtap.json', ...env },
    [],
    (p) => {
      if (p in all) return all[p];
      throw new Error('ENOENT: no such file');
    },
    { command },
  );
}

function problemsOf(file: unknown, options?: Parameters<typeof load>[1]): string[] {
  try {
    load(file, options);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

const tanium = { id: 'tanium', name: 'Tanium SSO', upstream: 'https://tanium.example.com/scim/v2' };

describe('the apps list', () => {
  it('resolves each app against the top-level settings, key by key', () => {
    const config = load({
      notifyTo: 'idm@example.com',
      cycleIntervalMin: 40,
      rules: { credentialsConsecutive: 4, tooManyDeletes: 300 },
      apps: [{ ...tanium, rules: { tooManyDeletes: 50 }, expectedObjects: 1200 }],
    });
    expect(config.mode).toBe('proxy');
    expect(config.apps).toEqual([
      expect.objectContaining({
        id: 'tanium',
        name: 'Tanium SSO',
        upstream: 'https://tanium.example.com/scim/v2',
        prefix: '/tanium',
        notifyTo: ['idm@example.com'],
        cycleIntervalMin: 40,
        expectedObjects: 1200,
      }),
    ]);
    const rules = config.apps![0].rules;
    expect(rules.tooManyDeletes).toBe(50);
    expect(rules.credentialsConsecutive).toBe(4);
    // an override leaves the rest at their defaults
    expect(rules.cycleGapMinutes).toBe(5);
  });

  it("takes an app's own notifyTo, interval and CA file over the top-level ones", () => {
    const config = load(
      {
        notifyTo: 'idm@example.com',
        apps: [
          {
            ...tanium,
            notifyTo: ['tanium-owner@example.com'],
            cycleIntervalMinutes: 120,
            upstreamCa: 'ca.pem',
          },
        ],
      },
      { files: { 'ca.pem': '-----BEGIN CERTIFICATE-----\n' } },
    );
    expect(config.apps![0]).toMatchObject({
      notifyTo: ['tanium-owner@example.com'],
      cycleIntervalMin: 120,
      upstreamCa: '-----BEGIN CERTIFICATE-----\n',
    });
  });

  it('without a list, SCIMTAP_UPSTREAM is the single app, at the root', () => {
    const config = load(
      {},
      { env: { SCIMTAP_UPSTREAM: 'https://t.example.com/scim', SCIMTAP_APP_NAME: 'Okta' } },
    );
    expect(config.apps).toBeUndefined();
    expect(appsOf(config)).toEqual([
      expect.objectContaining({
        id: SINGLE_APP_ID,
        name: 'Okta',
        upstream: 'https://t.example.com/scim',
        prefix: '',
      }),
    ]);
  });

  it('lists every problem of every entry at once', () => {
    const problems = problemsOf({
      apps: [
        { id: 'Tanium SSO', name: '', upstream: 'ftp://x' },
        { ...tanium, notifyTo: ['not-an-address'], rules: { tooManyDelete: 3 } },
        { ...tanium, upstreamCa: 'missing.pem', colour: 'red' },
      ],
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^apps\.0\.id: lowercase letters, digits and -/),
        expect.stringMatching(/^apps\.0\.name: /),
        expect.stringMatching(/^apps\.0\.upstream: expected an http:\/\/ or https:\/\/ URL/),
        expect.stringMatching(/^apps\.1\.notifyTo\.0: not an email address/),
        expect.stringMatching(/unknown key "tooManyDelete" \(did you mean "tooManyDeletes"\?\)/),
        expect.stringMatching(/unknown key "colour"/),
      ]),
    );
    expect(problems.length).toBeGreaterThanOrEqual(6);
  });

  it('refuses two apps with one id, an unreadable CA file, and SCIMTAP_UPSTREAM beside the list', () => {
    const problems = problemsOf(
      { apps: [tanium, { ...tanium, name: 'Tanium again', upstreamCa: 'missing.pem' }] },
      { env: { SCIMTAP_UPSTREAM: 'https://t.example.com' }, command: 'tool' },
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^SCIMTAP_UPSTREAM .*not used with an `apps` list/),
        'apps.1.id: "tanium" is already the id of apps.0; each app needs its own',
        expect.stringMatching(/^apps\.1\.upstreamCa: cannot read missing\.pem/),
      ]),
    );
  });

  it('takes several apps, each at its own /<id>/', () => {
    const two = {
      apps: [tanium, { id: 'acme-hr', name: 'Acme HR', upstream: 'https://hr.example.com/scim' }],
    };
    expect(load(two).apps?.map((a) => a.prefix)).toEqual(['/tanium', '/acme-hr']);
  });

  it('an apps list is not the demo, and the demo ignores it with a warning', () => {
    expect(load({ apps: [tanium] }).mode).toBe('proxy');
    const demo = load({ apps: [tanium] }, { command: 'demo' });
    expect(demo.mode).toBe('demo');
    expect(demo.apps).toBeUndefined();
    expect(demo.warnings.join('\n')).toContain('the apps list');
  });

  it("runs the pipeline with the app's settings in place of the top-level ones", () => {
    const config = load({
      appName: 'ignored',
      notifyTo: 'idm@example.com',
      apps: [{ ...tanium, notifyTo: ['owner@example.com'], rules: { tooManyDeletes: 50 } }],
    });
    const run = forApp(config, config.apps![0]);
    expect(run).toMatchObject({
      appName: 'Tanium SSO',
      upstream: 'https://tanium.example.com/scim/v2',
      notifyTo: ['owner@example.com'],
    });
    expect(run.rules.tooManyDeletes).toBe(50);
    // the settings an app cannot override are the file's
    expect(run.listen).toEqual(config.listen);
    expect(appsOf(run)).toEqual(config.apps);
  });
});

describe("an app's database", () => {
  const hr = { id: 'acme-hr', name: 'Acme HR', upstream: 'https://hr.example.com/scim' };
  const env = { SCIMTAP_DB: './data/scimtap.db' };

  it('is the file its entry names, else SCIMTAP_DB for the only app, else its own beside SCIMTAP_DB', () => {
    const cases: [string, { id: string; db?: string }, boolean, string][] = [
      // the one app of a list, or of SCIMTAP_UPSTREAM, records into SCIMTAP_DB itself
      ['alone', { id: 'tanium' }, false, './data/scimtap.db'],
      // an app of several gets a file named after it
      ['one of several', { id: 'tanium' }, true, './data/scimtap-tanium.db'],
      // a named file wins, so an app moved into a list keeps the single app's file and its history
      ['named, of several', { id: 'tanium', db: './data/scimtap.db' }, true, './data/scimtap.db'],
      ['named, alone', { id: 'tanium', db: '/var/lib/scimtap/t.db' }, false, '/var/lib/scimtap/t.db'],
    ];
    for (const [what, app, several, file] of cases)
      expect(appDb('./data/scimtap.db', app, several), what).toBe(file);
  });

  it("keeps the entry's db as written, and leaves it out when the entry names none", () => {
    const config = load({ apps: [{ ...tanium, db: './data/scimtap.db' }, hr] }, { env });
    expect(config.apps?.map((a) => a.db)).toEqual(['./data/scimtap.db', undefined]);
  });

  it('refuses two apps on one file, however the path is written, with the other problems between entries', () => {
    const problems = problemsOf(
      {
        apps: [
          { ...tanium, db: './data/shared.db' },
          { ...hr, db: 'data/shared.db', upstreamCa: 'missing.pem' },
          { ...hr, name: 'Acme HR again' },
          // a URL may hold a password: the problem does not echo it
          { id: 'crm', name: 'CRM', upstream: 'https://crm.example.com', db: 'postgres://u:secret@db/crm' },
        ],
      },
      { env },
    );
    expect(problems).toEqual([
      expect.stringMatching(/^apps\.1\.upstreamCa: cannot read missing\.pem/),
      "apps.3.db: an app's database is a SQLite file path (e.g. ./data/scimtap-crm.db)",
      'apps.1.db: data/shared.db is also the database of apps.0 ("tanium"); each app needs a file of its own',
      'apps.2.id: "acme-hr" is already the id of apps.1; each app needs its own',
    ]);
    expect(problems.join('\n')).not.toContain('secret');
  });

  it("refuses a named file that is another app's own beside SCIMTAP_DB", () => {
    const problems = problemsOf({ apps: [hr, { ...tanium, db: './data/scimtap-acme-hr.db' }] }, { env });
    expect(problems).toEqual([
      'apps.1.db: ./data/scimtap-acme-hr.db is also the database of apps.0 ("acme-hr"); each app needs a file of its own',
    ]);
  });

  it("lets one app of several keep SCIMTAP_DB's file, and apps share :memory: (a database of its own at each opening)", () => {
    expect(problemsOf({ apps: [{ ...tanium, db: './data/scimtap.db' }, hr] }, { env })).toEqual([]);
    expect(
      problemsOf(
        {
          apps: [
            { ...tanium, db: ':memory:' },
            { ...hr, db: ':memory:' },
          ],
        },
        { env },
      ),
    ).toEqual([]);
  });
});
