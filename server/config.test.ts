import { describe, expect, it } from 'vitest';
import { ConfigError, configHelp, isLoopback, loadConfig, nearest } from './config.js';

function problems(
  env: Record<string, string>,
  argv: string[] = [],
  files: Record<string, string> = {},
  command: 'serve' | 'demo' | 'tool' = 'tool',
): string[] {
  try {
    loadConfig(
      env,
      argv,
      (p) => {
        if (p in files) return files[p];
        throw new Error('ENOENT: no such file');
      },
      { command },
    );
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

describe('loadConfig', () => {
  it('defaults to demo mode with the documented listeners', () => {
    const c = loadConfig({});
    expect(c.mode).toBe('demo');
    // the demo's proxy stays on loopback; a real one listens on every interface
    expect(c.listen).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(loadConfig({ SCIMTAP_UPSTREAM: 'https://t.example.com' }).listen).toEqual({
      host: '0.0.0.0',
      port: 8080,
    });
    expect(c.adminListen).toEqual({ host: '127.0.0.1', port: 8081 });
    expect(c.capture).toBe('redacted');
    expect(c.redact).toEqual(['password']);
    expect(c.rules.cycleGapMinutes).toBe(5);
    // demo traffic gets its own database file unless SCIMTAP_DB says otherwise
    expect(c.db).toBe('./data/scimtap-demo.db');
    expect(loadConfig({ SCIMTAP_UPSTREAM: 'https://t.example.com/scim/v2' }).db).toBe('./data/scimtap.db');
    expect(loadConfig({ SCIMTAP_DB: './data/scimtap.db' }).db).toBe('./data/scimtap.db');
  });

  it('reads every variable of ARCHITECTURE §2 from the environment', () => {
    const c = loadConfig({
      SCIMTAP_UPSTREAM: 'https://tenant.example.com/scim/v2',
      SCIMTAP_LISTEN: '127.0.0.1:9000',
      SCIMTAP_ADMIN_LISTEN: '[::1]:9001',
      SCIMTAP_DB: '/tmp/x.db',
      SCIMTAP_APP_NAME: 'Tanium SSO',
      SCIMTAP_NOTIFY_TO: 'a@example.com, b@example.com',
      SCIMTAP_SMTP_URL: 'smtp://u:p@mail.example.com:587',
      SCIMTAP_MAIL_FROM: 'scimtap@example.com',
      SCIMTAP_PUBLIC_URL: 'https://scimtap.example.com',
      SCIMTAP_UPSTREAM_TIMEOUT_MS: '1500',
      SCIMTAP_CAPTURE: 'none',
      SCIMTAP_CAPTURE_LIMIT_BYTES: '1024',
      SCIMTAP_RETENTION_DAYS: '10',
      SCIMTAP_BODY_RETENTION_DAYS: '5',
      SCIMTAP_CYCLE_INTERVAL_MIN: '20',
      SCIMTAP_EXPECTED_OBJECTS: '5000',
    });
    expect(c).toMatchObject({
      mode: 'proxy',
      listen: { host: '127.0.0.1', port: 9000 },
      adminListen: { host: '::1', port: 9001 },
      appName: 'Tanium SSO',
      notifyTo: ['a@example.com', 'b@example.com'],
      upstreamTimeoutMs: 1500,
      capture: 'none',
      captureLimitBytes: 1024,
      retentionDays: 10,
      bodyRetentionDays: 5,
      cycleIntervalMin: 20,
      expectedObjects: 5000,
    });
  });

  it('lets CLI flags override the environment, which overrides the JSON file', () => {
    const c = loadConfig(
      { SCIMTAP_CONFIG: 'c.json', SCIMTAP_APP_NAME: 'from env' },
      ['--listen', '127.0.0.1:7000'],
      () => JSON.stringify({ appName: 'from file', listen: '127.0.0.1:6000', rules: { cycleGapMinutes: 9 } }),
    );
    expect(c.appName).toBe('from env');
    expect(c.listen.port).toBe(7000);
    expect(c.rules.cycleGapMinutes).toBe(9);
    expect(c.rules.tooManyDeletes).toBe(500);
  });

  it('lists every problem at once', () => {
    const found = problems({
      SCIMTAP_UPSTREAM: 'ftp://x',
      SCIMTAP_LISTEN: 'abc',
      SCIMTAP_ADMIN_LISTEN: '0.0.0.0:8081',
      SCIMTAP_CAPTURE: 'everything',
      SCIMTAP_NOTIFY_TO: 'not-an-address',
    });
    expect(found.join('\n')).toMatch(/SCIMTAP_UPSTREAM.*http/);
    expect(found.join('\n')).toMatch(/SCIMTAP_LISTEN.*host:port/);
    expect(found.join('\n')).toMatch(/SCIMTAP_ADMIN_TOKEN is required/);
    expect(found.join('\n')).toMatch(/SCIMTAP_CAPTURE/);
    expect(found.join('\n')).toMatch(/SCIMTAP_NOTIFY_TO/);
    expect(found.length).toBeGreaterThanOrEqual(5);
  });

  it('reports an unknown flag, an unreadable file and unknown rule keys', () => {
    expect(problems({}, ['--bogus', 'x']).join()).toMatch(/bogus/);
    expect(problems({}, ['--config', 'missing.json']).join()).toMatch(/missing\.json/);
    expect(problems({}, ['--config', 'c.json'], { 'c.json': '{"rules":{"nope":1}}' }).join()).toMatch(/nope/);
    expect(problems({ SCIMTAP_TLS_CERT: 'cert.pem' }).join()).toMatch(/go together/);
  });

  it('accepts a non-loopback admin listener when a token is set', () => {
    const c = loadConfig({
      SCIMTAP_ADMIN_LISTEN: '0.0.0.0:8081',
      SCIMTAP_ADMIN_TOKEN: 'a-long-enough-admin-token',
    });
    expect(c.adminToken).toBe('a-long-enough-admin-token');
  });
});

describe('demo mode is unmistakable', () => {
  const serve = { command: 'serve' as const };
  const noFile = () => {
    throw new Error('ENOENT');
  };

  it('runs the demo only when nothing at all is configured, with the proxy on loopback', () => {
    const c = loadConfig({}, [], noFile, serve);
    expect(c.mode).toBe('demo');
    expect(c.listen).toEqual({ host: '127.0.0.1', port: 8080 });
  });

  it('names the demo app after the Tanium-like target it plays, unless told otherwise', () => {
    // the banner, the emails and the dashboard read like the real thing, marked as the demo
    expect(loadConfig({}, [], noFile, serve).appName).toBe('Tanium SSO (demo)');
    expect(loadConfig({}, ['--app-name', 'Okta test'], noFile, { command: 'demo' }).appName).toBe(
      'Okta test',
    );
    expect(loadConfig({ SCIMTAP_APP_NAME: 'Contoso HR' }, [], noFile, { command: 'demo' }).appName).toBe(
      'Contoso HR',
    );
    // a real proxy keeps the documented default
    expect(loadConfig({ SCIMTAP_UPSTREAM: 'https://t.example.com/scim/v2' }).appName).toBe('SCIM app');
  });

  it.each([
    // a leftover database path
    [{ SCIMTAP_DB: '/srv/scimtap/real.db' }, [], /SCIMTAP_DB is given/],
    // SMTP and recipients but no upstream
    [{ SCIMTAP_SMTP_URL: 'smtp://u:p@mail:587', SCIMTAP_NOTIFY_TO: 'ops@example.com' }, [], /are given/],
    // a flag
    [{}, ['--app-name', 'Tanium SSO'], /--app-name is given/],
  ] as [Record<string, string>, string[], RegExp][])(
    '%j %j without an upstream is an error, not the demo',
    (env, argv, given) => {
      const found = problems(env, argv, {}, 'serve').join('\n');
      expect(found).toMatch(/SCIMTAP_UPSTREAM \(--upstream\): not set/);
      expect(found).toMatch(given);
      expect(found).toContain('scimtap demo');
    },
  );

  it('a misspelt SCIMTAP_UPSTREAM is named, with the right spelling', () => {
    const env = { SCIMTAP_UPSTREM: 'https://t.example.com/scim/v2' };
    expect(problems(env, [], {}, 'serve').join('\n')).toMatch(
      /SCIMTAP_UPSTREAM .*not set, while SCIMTAP_UPSTREM is given/,
    );
    const c = loadConfig({ ...env, SCIMTAP_UPSTREAM: 'https://t.example.com/scim/v2' });
    expect(c.warnings).toEqual([
      'unknown setting SCIMTAP_UPSTREM is ignored (did you mean SCIMTAP_UPSTREAM?)',
    ]);
    expect(loadConfig({ SCIMTAP_FOO_BAR_BAZ: '1' }).warnings).toEqual([
      'unknown setting SCIMTAP_FOO_BAR_BAZ is ignored',
    ]);
  });

  it('`scimtap demo` never emails and never calls a real upstream, and says what it ignores', () => {
    const c = loadConfig(
      {
        SCIMTAP_UPSTREAM: 'https://t.example.com/scim/v2',
        SCIMTAP_SMTP_URL: 'smtp://u:p@mail.example.com:587',
        SCIMTAP_NOTIFY_TO: 'oncall@example.com',
      },
      [],
      noFile,
      { command: 'demo' },
    );
    expect(c).toMatchObject({ mode: 'demo', notifyTo: [], listen: { host: '127.0.0.1', port: 8080 } });
    expect(c.smtpUrl).toBeUndefined();
    expect(c.upstream).toBeUndefined();
    expect(c.warnings.join()).toMatch(
      /demo mode ignores SCIMTAP_UPSTREAM, SCIMTAP_SMTP_URL, SCIMTAP_NOTIFY_TO/,
    );
  });
});

describe('configuration errors name what to fix', () => {
  it('echoes the bad value, but never a secret', () => {
    expect(problems({ SCIMTAP_CAPTURE: 'everything' }).join()).toMatch(
      /SCIMTAP_CAPTURE .*\(got "everything"\)/,
    );
    expect(problems({ SCIMTAP_LISTEN: 'abc' }).join()).toMatch(/host:port.*\(got "abc"\)/);
    const token = problems({ SCIMTAP_ADMIN_TOKEN: 'short-secret' }).join();
    expect(token).toMatch(/SCIMTAP_ADMIN_TOKEN.*16 characters/);
    expect(token).not.toContain('short-secret');
    const smtp = problems({ SCIMTAP_SMTP_URL: 'http://user:hunter2hunter2@mail' }).join();
    expect(smtp).toMatch(/SCIMTAP_SMTP_URL/);
    expect(smtp).not.toContain('hunter2');
  });

  it('suggests the nearest valid key for an unknown key in the config file', () => {
    const files = { 'c.json': JSON.stringify({ upstrem: 'https://x', rules: { credentialConsecutive: 2 } }) };
    const found = problems({}, ['--config', 'c.json'], files).join('\n');
    expect(found).toMatch(/unknown key "upstrem" \(did you mean "upstream"\?\)/);
    expect(found).toMatch(/unknown key "credentialConsecutive" \(did you mean "credentialsConsecutive"\?\)/);
  });

  it('--help gives each option its meaning and default', () => {
    expect(configHelp).toMatch(/--upstream\s+SCIMTAP_UPSTREAM\s+default: unset\n\s+base URL of the SCIM app/);
    expect(configHelp).toMatch(/--capture\s+SCIMTAP_CAPTURE\s+default: redacted\n\s+bodies kept/);
  });

  it.each([
    ['SCIMTAP_UPSTREM', 'SCIMTAP_UPSTREAM'],
    ['SCIMTAP_NOTIFY', 'SCIMTAP_NOTIFY_TO'],
    ['SCIMTAP_ADMINTOKEN', 'SCIMTAP_ADMIN_TOKEN'],
    ['SCIMTAP_COMPLETELY_DIFFERENT', null],
  ])('nearest(%s) = %s', (word, expected) => {
    expect(
      nearest(word, ['SCIMTAP_UPSTREAM', 'SCIMTAP_NOTIFY_TO', 'SCIMTAP_ADMIN_TOKEN', 'SCIMTAP_DB']),
    ).toBe(expected);
  });
});

describe('isLoopback', () => {
  // 127/8 and ::1 never leave the machine; 0.0.0.0 listens on every interface.
  it.each([
    ['127.0.0.1', true],
    ['127.1.2.3', true],
    ['::1', true],
    ['localhost', true],
    ['0.0.0.0', false],
    ['::', false],
    ['10.0.0.5', false],
  ])('%s → %s', (host, expected) => expect(isLoopback(host)).toBe(expected));
});

describe('loadConfig: receivers', () => {
  const KEY = 'abcdef0123456789abcdef0123456789';
  // receivers are ignored in demo mode, so these configurations name an upstream
  const UP = { SCIMTAP_UPSTREAM: 'https://app.example/scim/v2' };
  it('each single-receiver variable adds a receiver named after its type', () => {
    const c = loadConfig({
      ...UP,
      SCIMTAP_SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T/B/x',
      SCIMTAP_TEAMS_WEBHOOK_URL: 'https://prod.westeurope.logic.azure.com/workflows/x',
      SCIMTAP_PAGERDUTY_ROUTING_KEY: KEY,
      SCIMTAP_PAGERDUTY_URL: 'https://events.eu.pagerduty.com/v2/enqueue',
      SCIMTAP_WEBHOOK_URL: 'https://hooks.example.com/scimtap',
      SCIMTAP_WEBHOOK_SECRET: 'a-secret-of-16-chars',
      SCIMTAP_ALERTMANAGER_URL: 'http://alertmanager:9093',
    });
    expect(c.receivers).toEqual([
      { type: 'slack', name: 'slack', url: 'https://hooks.slack.com/services/T/B/x' },
      { type: 'teams', name: 'teams', url: 'https://prod.westeurope.logic.azure.com/workflows/x' },
      {
        type: 'pagerduty',
        name: 'pagerduty',
        routingKey: KEY,
        url: 'https://events.eu.pagerduty.com/v2/enqueue',
      },
      {
        type: 'webhook',
        name: 'webhook',
        url: 'https://hooks.example.com/scimtap',
        secret: 'a-secret-of-16-chars',
      },
      { type: 'alertmanager', name: 'alertmanager', url: 'http://alertmanager:9093', resendSeconds: 60 },
    ]);
    // PagerDuty's US events endpoint by default
    expect(loadConfig({ ...UP, SCIMTAP_PAGERDUTY_ROUTING_KEY: KEY }).receivers[0]).toMatchObject({
      url: 'https://events.pagerduty.com/v2/enqueue',
    });
  });

  it('a receivers list in the JSON file routes by severity and rule; a variable fills the entry named after it', () => {
    const file = JSON.stringify({
      receivers: [
        { type: 'email', severities: ['critical'] },
        {
          type: 'pagerduty',
          name: 'oncall',
          routingKey: KEY,
          rules: ['credentials', 'upstreamUnavailable'],
        },
        { type: 'slack', url: 'https://placeholder.example/', severities: ['critical', 'warning'] },
      ],
    });
    const c = loadConfig(
      {
        ...UP,
        SCIMTAP_CONFIG: '/c.json',
        SCIMTAP_SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T/B/real',
      },
      [],
      () => file,
    );
    expect(c.receivers).toEqual([
      { type: 'email', name: 'email', severities: ['critical'] },
      {
        type: 'pagerduty',
        name: 'oncall',
        routingKey: KEY,
        url: 'https://events.pagerduty.com/v2/enqueue',
        rules: ['credentials', 'upstreamUnavailable'],
      },
      {
        type: 'slack',
        name: 'slack',
        url: 'https://hooks.slack.com/services/T/B/real',
        severities: ['critical', 'warning'],
      },
    ]);
  });

  it('reports bad receivers without quoting their secrets', () => {
    const file = JSON.stringify({
      receivers: [
        { type: 'slack', name: 'team', url: 'https://hooks.slack.com/services/T/B/x' },
        { type: 'teams', name: 'team', url: 'https://x.example/' },
        { type: 'pagerduty', routingKey: 'short' },
        { type: 'slack', url: 'ftp://nope', severities: ['urgent'], rules: ['noSuchRule'] },
        { type: 'sms', url: 'https://x.example/' },
      ],
    });
    const found = problems(
      {
        ...UP,
        SCIMTAP_CONFIG: '/c.json',
        SCIMTAP_WEBHOOK_SECRET: 'too-short',
        SCIMTAP_WEBHOOK_URL: 'https://h.example/',
      },
      [],
      { '/c.json': file },
    );
    const text = found.join('\n');
    expect(text).toMatch(/receivers\.2\.routingKey: expected a 32-character integration key/);
    expect(text).toMatch(/receivers\.3\.url: expected an http/);
    expect(text).toMatch(/receivers\.3\.severities\.0/);
    expect(text).toMatch(/receivers\.3\.rules\.0/);
    expect(text).toMatch(/receivers\.4\.type/);
    expect(text).not.toContain('short');
    expect(text).not.toContain('ftp://nope');
    const dup = problems({ SCIMTAP_CONFIG: '/c.json' }, [], {
      '/c.json': JSON.stringify({
        receivers: [file && JSON.parse(file).receivers[0], JSON.parse(file).receivers[1]],
      }),
    });
    expect(dup).toEqual(['receivers: the name "team" is used twice']);
    expect(
      problems({ SCIMTAP_WEBHOOK_URL: 'https://h.example/', SCIMTAP_WEBHOOK_SECRET: 'too-short' }),
    ).toEqual(['receiver "webhook": secret: must be at least 16 characters']);
  });
});
