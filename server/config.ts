import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { ruleCodes } from './detect/types.js';
import { cidrProblems, splitList } from './proxy/cidr.js';

// The only reader of process.env (STYLE.md §1). Everything else receives the Config.

export interface HostPort {
  host: string;
  port: number;
}

const hostPort = z.string().transform((value, ctx): HostPort => {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s[\]]+)):(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port > 65535) {
    ctx.addIssue({ code: 'custom', message: 'expected host:port (e.g. 0.0.0.0:8080)' });
    return z.NEVER;
  }
  return { host: m[1] ?? m[2], port };
});

const httpUrl = z.string().refine(
  (v) => {
    try {
      const u = new URL(v);
      return u.protocol === 'http:' || u.protocol === 'https:';
    } catch {
      return false;
    }
  },
  { message: 'expected an http:// or https:// URL' },
);

const smtpUrl = z.string().refine(
  (v) => {
    try {
      return ['smtp:', 'smtps:'].includes(new URL(v).protocol);
    } catch {
      return false;
    }
  },
  { message: 'expected smtp://user:pass@host:587 or smtps://...' },
);

/** PagerDuty's Events API v2 (US service region; EU accounts use https://events.eu.pagerduty.com/v2/enqueue). */
export const pagerDutyEventsUrl = 'https://events.pagerduty.com/v2/enqueue';

// `low` and `info` are accepted ahead of rules that use them, so a routing file need not change when they land.
const severityNames = ['critical', 'warning', 'low', 'info'] as const;
const route = {
  /** names the receiver in the outbox, the dashboard and `POST /api/notifications/test?receiver=` */
  name: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$/, 'letters, digits, - and _, at most 40')
    .optional(),
  /** only incidents of these severities (absent: all) */
  severities: z.array(z.enum(severityNames)).optional(),
  /** only incidents of these rules (absent: all) */
  rules: z.array(z.enum(ruleCodes)).optional(),
};
export const receiverSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('email'), ...route }).strict(),
  z.object({ type: z.literal('slack'), url: httpUrl, ...route }).strict(),
  z.object({ type: z.literal('teams'), url: httpUrl, ...route }).strict(),
  z
    .object({
      type: z.literal('pagerduty'),
      routingKey: z.string().regex(/^[A-Za-z0-9]{20,64}$/, 'expected a 32-character integration key'),
      url: httpUrl.default(pagerDutyEventsUrl),
      ...route,
    })
    .strict(),
  z
    .object({
      type: z.literal('webhook'),
      url: httpUrl,
      secret: z.string().min(16, 'must be at least 16 characters').optional(),
      ...route,
    })
    .strict(),
  z
    .object({
      type: z.literal('alertmanager'),
      url: httpUrl,
      /** firing alerts are pushed again this often; each push sets endsAt 4 intervals ahead */
      resendSeconds: z.number().int().min(5).max(3600).default(60),
      ...route,
    })
    .strict(),
]);
export type ReceiverConfig = z.infer<typeof receiverSchema> & { name: string };
export type ReceiverType = ReceiverConfig['type'];

/** CIDR ranges, comma/space separated in a variable or an array in the JSON file (server/proxy/cidr.ts). */
const cidrList = z
  .union([z.string(), z.array(z.string())])
  .transform((v) => splitList(v))
  .superRefine((list, ctx) => {
    for (const message of cidrProblems(list)) ctx.addIssue({ code: 'custom', message });
  });

const positiveInt = z.coerce.number().int().positive();
const nonNegativeInt = z.coerce.number().int().min(0);

export const rulesSchema = z
  .object({
    cycleGapMinutes: z.number().positive().default(5),
    credentialsConsecutive: z.number().int().positive().default(3),
    upstreamConsecutive: z.number().int().positive().default(5),
    upstreamWindow: z.number().int().positive().default(20),
    upstreamWindowShare: z.number().min(0).max(1).default(0.5),
    escrowProportionShare: z.number().min(0).max(1).default(0.4),
    escrowProportionMinFailures: z.number().int().positive().default(10),
    escrowTotalFailures: z.number().int().positive().default(40_000),
    escrowTotalAllKinds: z.number().int().positive().default(60_000),
    escrowWarningShare: z.number().min(0).max(1).default(0.1),
    tooManyDeletes: z.number().int().positive().default(500),
    throttlingShare: z.number().min(0).max(1).default(0.1),
    /** fewer 429s than this in a cycle never fire `throttling` (a 3-call cycle with one 429 is not a storm) */
    throttlingMinCount: z.number().int().positive().default(5),
    slowUpstreamMs: z.number().positive().default(10_000),
    slowUpstreamWindow: z.number().int().positive().default(50),
    /** a p95 over fewer calls than this is one slow call, not a slow upstream */
    slowUpstreamMinCalls: z.number().int().positive().default(20),
    /** `scimCompliance` holds while a non-compliant answer is among the last N filter queries */
    scimComplianceWindow: z.number().int().positive().default(20),
    /** `recorderFailing` holds this long after the recorder last dropped an operation */
    recorderDropWindowMinutes: z.number().positive().default(10),
    stuckObjectCycles: z.number().int().positive().default(3),
    stalledGraceMinutes: z.number().positive().default(20),
    backoffGapMinutes: z.number().positive().default(120),
    /** how long a condition must hold before an incident fires */
    debounceSeconds: z.number().min(0).default(0),
    /** how long a condition must stay false before an incident resolves */
    recoverySeconds: z.number().min(0).default(60),
    reminderHours: z.number().positive().default(24),
    /** `unrecognisedClients` fires at this many requests from outside the provisioning client ... */
    unrecognisedClientsCount: z.number().int().positive().default(5),
    /** ... within this many minutes, and holds while that many remain in the window */
    unrecognisedClientsWindowMinutes: z.number().positive().default(60),
  })
  .strict();
export type RulesConfig = z.infer<typeof rulesSchema>;

const configSchema = z
  .object({
    upstream: httpUrl.optional(),
    listen: hostPort.prefault('0.0.0.0:8080'),
    adminListen: hostPort.prefault('127.0.0.1:8081'),
    adminToken: z.string().min(16, 'must be at least 16 characters').optional(),
    db: z.string().min(1).optional(),
    appName: z.string().min(1).default('SCIM app'),
    notifyTo: z
      .string()
      .optional()
      .transform((v) =>
        v
          ? v
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean)
          : [],
      )
      .pipe(z.array(z.email('not an email address'))),
    smtpUrl: smtpUrl.optional(),
    mailFrom: z.string().min(3).default('scimtap@localhost'),
    publicUrl: httpUrl.optional(),
    upstreamTimeoutMs: positiveInt.default(60_000),
    bodyTimeoutMs: positiveInt.default(30_000),
    clientConcurrency: positiveInt.default(64),
    upstreamCa: z.string().optional(),
    trustedClients: cidrList.optional(),
    trustedProxies: cidrList.default([]),
    tlsCert: z.string().optional(),
    tlsKey: z.string().optional(),
    capture: z.enum(['full', 'redacted', 'none']).default('redacted'),
    captureLimitBytes: nonNegativeInt.default(65_536),
    redact: z.array(z.string().min(1)).default(['password']),
    retentionDays: positiveInt.default(90),
    bodyRetentionDays: positiveInt.default(30),
    maxDbMb: z.coerce.number().int().min(8, 'at least 8 (MB)').default(1024),
    cycleIntervalMin: positiveInt.default(40),
    expectedObjects: positiveInt.optional(),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    rules: rulesSchema.default(rulesSchema.parse({})),
    receivers: z.array(receiverSchema).max(20).default([]),
    slackWebhookUrl: httpUrl.optional(),
    teamsWebhookUrl: httpUrl.optional(),
    pagerdutyRoutingKey: z.string().optional(),
    pagerdutyUrl: httpUrl.optional(),
    webhookUrl: httpUrl.optional(),
    webhookSecret: z.string().optional(),
    alertmanagerUrl: httpUrl.optional(),
  })
  .strict();

/** Demo traffic never lands in the real database: without SCIMTAP_DB each mode has its own file. */
/** The demo's app name, unless SCIMTAP_APP_NAME / --app-name says otherwise. */
export const DEMO_APP_NAME = 'Tanium SSO (demo)';

export const defaultDbPath = { proxy: './data/scimtap.db', demo: './data/scimtap-demo.db' } as const;

/** The single-receiver environment variables, folded into `receivers` by `loadConfig`. */
type ReceiverShortcuts =
  | 'slackWebhookUrl'
  | 'teamsWebhookUrl'
  | 'pagerdutyRoutingKey'
  | 'pagerdutyUrl'
  | 'webhookUrl'
  | 'webhookSecret'
  | 'alertmanagerUrl';

export type Config = Omit<
  z.infer<typeof configSchema>,
  'upstreamCa' | 'tlsCert' | 'tlsKey' | 'db' | 'receivers' | ReceiverShortcuts
> & {
  db: string;
  /** every receiver but email's default, named; email is always there (a `type: "email"` entry routes it) */
  receivers: ReceiverConfig[];
  /** PEM contents (files are read at load time so that a bad path is a config error) */
  upstreamCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  mode: 'proxy' | 'demo';
  /** what the operator should hear about at startup without it being an error (unknown variables, ...) */
  warnings: string[];
};

/**
 * `serve`: the default command, which needs SCIMTAP_UPSTREAM unless nothing at all is configured (then it runs
 * the demo); `demo`: the explicit demo; `tool`: commands that only read the database (rebuild, benchmarks).
 */
export type Command = 'serve' | 'demo' | 'tool';

/** Each key: its environment variable and CLI flag. */
const sources = {
  upstream: ['SCIMTAP_UPSTREAM', 'upstream'],
  listen: ['SCIMTAP_LISTEN', 'listen'],
  adminListen: ['SCIMTAP_ADMIN_LISTEN', 'admin-listen'],
  adminToken: ['SCIMTAP_ADMIN_TOKEN', 'admin-token'],
  db: ['SCIMTAP_DB', 'db'],
  appName: ['SCIMTAP_APP_NAME', 'app-name'],
  notifyTo: ['SCIMTAP_NOTIFY_TO', 'notify-to'],
  smtpUrl: ['SCIMTAP_SMTP_URL', 'smtp-url'],
  mailFrom: ['SCIMTAP_MAIL_FROM', 'mail-from'],
  publicUrl: ['SCIMTAP_PUBLIC_URL', 'public-url'],
  upstreamTimeoutMs: ['SCIMTAP_UPSTREAM_TIMEOUT_MS', 'upstream-timeout-ms'],
  bodyTimeoutMs: ['SCIMTAP_BODY_TIMEOUT_MS', 'body-timeout-ms'],
  clientConcurrency: ['SCIMTAP_CLIENT_CONCURRENCY', 'client-concurrency'],
  upstreamCa: ['SCIMTAP_UPSTREAM_CA', 'upstream-ca'],
  trustedClients: ['SCIMTAP_TRUSTED_CLIENTS', 'trusted-clients'],
  trustedProxies: ['SCIMTAP_TRUSTED_PROXIES', 'trusted-proxies'],
  tlsCert: ['SCIMTAP_TLS_CERT', 'tls-cert'],
  tlsKey: ['SCIMTAP_TLS_KEY', 'tls-key'],
  capture: ['SCIMTAP_CAPTURE', 'capture'],
  captureLimitBytes: ['SCIMTAP_CAPTURE_LIMIT_BYTES', 'capture-limit-bytes'],
  retentionDays: ['SCIMTAP_RETENTION_DAYS', 'retention-days'],
  bodyRetentionDays: ['SCIMTAP_BODY_RETENTION_DAYS', 'body-retention-days'],
  maxDbMb: ['SCIMTAP_MAX_DB_MB', 'max-db-mb'],
  cycleIntervalMin: ['SCIMTAP_CYCLE_INTERVAL_MIN', 'cycle-interval-min'],
  expectedObjects: ['SCIMTAP_EXPECTED_OBJECTS', 'expected-objects'],
  logLevel: ['SCIMTAP_LOG_LEVEL', 'log-level'],
  slackWebhookUrl: ['SCIMTAP_SLACK_WEBHOOK_URL', 'slack-webhook-url'],
  teamsWebhookUrl: ['SCIMTAP_TEAMS_WEBHOOK_URL', 'teams-webhook-url'],
  pagerdutyRoutingKey: ['SCIMTAP_PAGERDUTY_ROUTING_KEY', 'pagerduty-routing-key'],
  pagerdutyUrl: ['SCIMTAP_PAGERDUTY_URL', 'pagerduty-url'],
  webhookUrl: ['SCIMTAP_WEBHOOK_URL', 'webhook-url'],
  webhookSecret: ['SCIMTAP_WEBHOOK_SECRET', 'webhook-secret'],
  alertmanagerUrl: ['SCIMTAP_ALERTMANAGER_URL', 'alertmanager-url'],
} as const;

/** What `--help` says of each option: its default and what it is for (the README's table, shorter). */
const optionDocs: Record<keyof typeof sources, [defaultValue: string, meaning: string]> = {
  upstream: [
    'unset',
    'base URL of the SCIM app, e.g. https://tenant.example.com/scim/v2 (required but for the demo)',
  ],
  listen: ['0.0.0.0:8080', "proxy listener: Entra's Tenant URL points here (demo: 127.0.0.1:8080)"],
  adminListen: ['127.0.0.1:8081', 'dashboard, /api and /metrics'],
  adminToken: ['unset', 'bearer token for the admin listener (16+ characters); required off loopback'],
  db: ['./data/scimtap.db', 'SQLite file, created with its folder (demo: ./data/scimtap-demo.db)'],
  appName: [
    'SCIM app',
    'the app name in emails and the dashboard, e.g. "Tanium SSO" (demo: "Tanium SSO (demo)")',
  ],
  notifyTo: ['unset', 'notification email addresses, comma separated'],
  smtpUrl: ['unset', 'smtp://user:pass@host:587 or smtps://…; unset: emails wait in the outbox'],
  mailFrom: ['scimtap@localhost', 'sender address of the emails'],
  publicUrl: [
    'admin listener URL',
    'base URL of links in emails; its host is accepted by the admin listener',
  ],
  upstreamTimeoutMs: ['60000', 'no complete answer by then: 504 to the client'],
  bodyTimeoutMs: [
    '30000',
    'request body not received by then (from its headers): 408, upstream request aborted',
  ],
  clientConcurrency: [
    '64',
    'upstream requests one client address may have in flight (of 256); more wait up to 5 s, then 429',
  ],
  upstreamCa: ['unset', "PEM file of an extra CA trusted for the upstream's TLS"],
  trustedClients: [
    'unset: everyone',
    "CIDR ranges (IPv4, IPv6) allowed to call the proxy; others get scimtap's own 403 (Entra: the AzureActiveDirectory service tag)",
  ],
  trustedProxies: [
    'unset: none',
    'CIDR ranges of load balancers whose X-Forwarded-For names the client; from elsewhere it is ignored',
  ],
  tlsCert: ['unset', 'PEM certificate: serve the proxy listener over HTTPS (with --tls-key)'],
  tlsKey: ['unset', 'PEM private key for --tls-cert'],
  capture: ['redacted', 'bodies kept: full, redacted (secret attributes replaced) or none'],
  captureLimitBytes: ['65536', 'bytes kept per body; the forwarded body is never cut'],
  retentionDays: ['90', 'operations older than this are pruned'],
  bodyRetentionDays: ['30', 'bodies older than this are dropped, metadata kept'],
  maxDbMb: [
    '1024',
    'storage budget for the database and its WAL in MB: near it, oldest bodies then oldest operations are pruned',
  ],
  cycleIntervalMin: ['40', 'expected minutes between provisioning cycles'],
  expectedObjects: ['unset', 'users + groups in scope: makes initial-cycle progress exact'],
  logLevel: ['info', 'fatal, error, warn, info, debug, trace or silent'],
  slackWebhookUrl: ['unset', 'Slack incoming webhook URL: alerts as a Slack message (a secret)'],
  teamsWebhookUrl: [
    'unset',
    'Microsoft Teams workflow/incoming webhook URL: alerts as an Adaptive Card (a secret)',
  ],
  pagerdutyRoutingKey: [
    'unset',
    'PagerDuty Events API v2 routing key: trigger, acknowledge, resolve (a secret)',
  ],
  pagerdutyUrl: ['https://events.pagerduty.com/v2/enqueue', 'PagerDuty events URL (EU accounts, tests)'],
  webhookUrl: ['unset', 'generic webhook: the Alertmanager v4 webhook payload (a secret)'],
  webhookSecret: ['unset', 'HMAC-SHA256 key signing the generic webhook (X-Scimtap-Signature)'],
  alertmanagerUrl: ['unset', 'Prometheus Alertmanager base URL: firing incidents pushed to /api/v2/alerts'],
};

export const configHelp = [
  'Options: each is also an environment variable. --config FILE (SCIMTAP_CONFIG) names a JSON file with the',
  'same keys in camelCase plus "rules" (detection thresholds) and "receivers" (alert routing). Precedence: defaults < file < environment < flags.',
  '',
  ...Object.entries(sources).flatMap(([key, [env, flag]]) => {
    const [byDefault, meaning] = optionDocs[key as keyof typeof sources];
    return [`  --${flag.padEnd(22)} ${env.padEnd(30)} default: ${byDefault}`, `      ${meaning}`];
  }),
].join('\n');

export class ConfigError extends Error {
  constructor(
    readonly problems: string[],
    /** said too: an unknown variable is often the reason a required one is missing */
    readonly warnings: string[] = [],
  ) {
    super(
      `invalid configuration:\n${[...problems, ...warnings.map((w) => `warning: ${w}`)].map((p) => `  - ${p}`).join('\n')}`,
    );
  }
}

/** Merge defaults < JSON file < environment < CLI flags, validate, and report every problem at once. */
export function loadConfig(
  env: Record<string, string | undefined> = process.env,
  argv: string[] = [],
  readFile: (path: string) => string = (p) => readFileSync(p, 'utf8'),
  { command = 'tool' }: { command?: Command } = {},
): Config {
  const problems: string[] = [];
  const warnings = unknownVariables(env);
  const options = Object.fromEntries(
    [...Object.values(sources).map(([, flag]) => flag), 'config'].map((flag) => [
      flag,
      { type: 'string' as const },
    ]),
  );
  let flags: Record<string, string | undefined> = {};
  try {
    flags = parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as Record<
      string,
      string | undefined
    >;
  } catch (err) {
    problems.push((err as Error).message);
  }

  let fromFile: Record<string, unknown> = {};
  const configPath = flags.config ?? env.SCIMTAP_CONFIG;
  if (configPath) {
    try {
      const parsed = JSON.parse(readFile(configPath));
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        throw new Error('expected a JSON object');
      }
      fromFile = parsed;
    } catch (err) {
      problems.push(`config file ${configPath}: ${(err as Error).message}`);
    }
  }

  const raw: Record<string, unknown> = { ...fromFile };
  for (const [key, [envName, flag]] of Object.entries(sources)) {
    const value = flags[flag] ?? emptyToUndefined(env[envName]);
    if (value !== undefined) raw[key] = value;
  }
  if (Array.isArray(raw.notifyTo)) raw.notifyTo = raw.notifyTo.join(',');

  const result = configSchema.safeParse(raw);
  if (!result.success) {
    for (const issue of result.error.issues) problems.push(...describeIssue(issue, raw));
  }
  problems.push(...crossChecks(raw));
  // Demo mode must be unmistakable (a misspelt SCIMTAP_UPSTREAM used to start it quietly, into the real database).
  const given = settingsGiven(env, flags, configPath);
  if (command === 'serve' && !raw.upstream && given.length > 0) {
    problems.push(
      `${describeKey(['upstream'])}: not set, while ${given.join(', ')} ${given.length === 1 ? 'is' : 'are'} given. Set it to the SCIM app's base URL (e.g. https://tenant.example.com/scim/v2), or run \`scimtap demo\` for the demo.`,
    );
  }
  const receivers = result.success ? foldReceivers(result.data, problems) : [];
  if (problems.length > 0 || !result.success) throw new ConfigError(problems, warnings);

  const {
    slackWebhookUrl: _s,
    teamsWebhookUrl: _t,
    pagerdutyRoutingKey: _p,
    pagerdutyUrl: _pu,
    webhookUrl: _w,
    webhookSecret: _ws,
    alertmanagerUrl: _a,
    ...parsed
  } = result.data;
  const pem = (key: 'upstreamCa' | 'tlsCert' | 'tlsKey') => {
    const path = parsed[key];
    if (!path) return undefined;
    try {
      return readFile(path);
    } catch (err) {
      problems.push(`${describeKey([key])}: cannot read ${path}: ${(err as Error).message}`);
      return undefined;
    }
  };
  const mode = command === 'demo' || !parsed.upstream ? 'demo' : 'proxy';
  const config: Config = {
    ...parsed,
    db: parsed.db ?? defaultDbPath[mode],
    upstreamCa: pem('upstreamCa'),
    tlsCert: pem('tlsCert'),
    tlsKey: pem('tlsKey'),
    mode,
    warnings,
    receivers,
  };
  if (mode === 'demo') Object.assign(config, demoOverrides(raw, warnings));
  if (problems.length > 0) throw new ConfigError(problems, warnings);
  return config;
}

/**
 * The demo plays to nobody but the person running it: its proxy listens on loopback unless told otherwise, and
 * it never emails (its emails stay in the outbox, readable on the incident page) nor calls a real upstream.
 */
function demoOverrides(raw: Record<string, unknown>, warnings: string[]): Partial<Config> {
  const ignored = (
    [
      'upstream',
      'smtpUrl',
      'notifyTo',
      'slackWebhookUrl',
      'teamsWebhookUrl',
      'pagerdutyRoutingKey',
      'webhookUrl',
      'alertmanagerUrl',
    ] as const
  ).filter((k) => raw[k] !== undefined && raw[k] !== '');
  if (ignored.length > 0 || (Array.isArray(raw.receivers) && raw.receivers.length > 0)) {
    const names: string[] = ignored.map((k) => sources[k][0]);
    if (Array.isArray(raw.receivers) && raw.receivers.length > 0) names.push('the receivers list');
    warnings.push(
      `demo mode ignores ${names.join(', ')}: the demo talks to its own embedded app and never sends email or alerts`,
    );
  }
  return {
    // The embedded target plays Tanium SSO's SCIM API, so the banner, emails and dashboard name it, as they
    // would name the real app; the "(demo)" keeps a screenshot from passing for production.
    ...(raw.appName === undefined || raw.appName === '' ? { appName: DEMO_APP_NAME } : {}),
    upstream: undefined,
    smtpUrl: undefined,
    notifyTo: [],
    receivers: [],
    listen:
      raw.listen === undefined ? { host: '127.0.0.1', port: 8080 } : (hostPort.parse(raw.listen) as HostPort),
  };
}

const knownVariables = new Set<string>([...Object.values(sources).map(([env]) => env), 'SCIMTAP_CONFIG']);

/** A SCIMTAP_* variable nobody reads is most likely a typo of one that matters. */
function unknownVariables(env: Record<string, string | undefined>): string[] {
  const found: string[] = [];
  for (const name of Object.keys(env)) {
    if (!name.startsWith('SCIMTAP_') || knownVariables.has(name)) continue;
    const near = nearest(name, [...knownVariables]);
    found.push(`unknown setting ${name} is ignored${near ? ` (did you mean ${near}?)` : ''}`);
  }
  return found;
}

/** The settings given at all (variables, flags, a config file): any of them means "not the demo". */
function settingsGiven(
  env: Record<string, string | undefined>,
  flags: Record<string, string | undefined>,
  configPath: string | undefined,
): string[] {
  const given = Object.keys(env).filter(
    (n) => n.startsWith('SCIMTAP_') && emptyToUndefined(env[n]) !== undefined,
  );
  for (const [flag, value] of Object.entries(flags)) if (value !== undefined) given.push(`--${flag}`);
  if (configPath && !given.includes('SCIMTAP_CONFIG')) given.push(`config file ${configPath}`);
  return [...new Set(given)];
}

/** The candidate closest to `word` by edit distance, when it is close enough to be the intended one. */
export function nearest(word: string, candidates: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = Number.POSITIVE_INFINITY;
  const w = word.toLowerCase();
  for (const c of candidates) {
    const d = editDistance(w, c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best !== null && bestDistance <= Math.max(2, Math.floor(word.length / 4)) ? best : null;
}

function editDistance(a: string, b: string): number {
  // Names are short (config keys): the O(|a|·|b|) table is bounded by the caller's inputs.
  if (a.length > 100 || b.length > 100) return Number.POSITIVE_INFINITY;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length];
}

// Values of these keys are never echoed in an error: they are, or may contain, credentials.
const secretKey = /token|secret|password|smtp|webhook|routingkey|key$/i;

/** One zod issue as the operator should read it: which setting, what is wrong, what was given, what was meant. */
function describeIssue(
  issue: { path: PropertyKey[]; message: string; code?: string; keys?: string[] },
  raw: Record<string, unknown>,
): string[] {
  if (issue.code === 'unrecognized_keys' && issue.keys) {
    const where = issue.path.length ? `config file key ${issue.path.map(String).join('.')}` : 'config file';
    const valid =
      issue.path[0] === 'rules' ? Object.keys(rulesSchema.shape) : [...Object.keys(sources), 'rules'];
    return issue.keys.map((k) => {
      const near = nearest(k, valid);
      return `${where}: unknown key "${k}"${near ? ` (did you mean "${near}"?)` : ''}`;
    });
  }
  const key = String(issue.path[0] ?? '');
  let value: unknown = raw;
  for (const p of issue.path) value = (value as Record<PropertyKey, unknown> | undefined)?.[p];
  const shown =
    value === undefined ||
    key === 'receivers' ||
    secretKey.test(key) ||
    secretKey.test(String(issue.path.at(-1) ?? ''))
      ? ''
      : ` (got ${JSON.stringify(typeof value === 'string' && value.length > 80 ? `${value.slice(0, 80)}…` : value)})`;
  return [`${describeKey(issue.path)}: ${issue.message}${shown}`];
}

/**
 * The `receivers` list plus the single-receiver variables. A variable fills the receiver named after its type
 * (`slack`, `teams`, `pagerduty`, `webhook`, `alertmanager`): it overrides that entry's URL or key when the file
 * has one, and adds it otherwise. Problems never quote a value: URLs and keys are secrets.
 */
function foldReceivers(parsed: z.infer<typeof configSchema>, problems: string[]): ReceiverConfig[] {
  const list: ReceiverConfig[] = parsed.receivers.map((r) => ({ ...r, name: r.name ?? r.type }));
  const named = (type: ReceiverType) => list.find((r) => r.name === type);
  const put = (type: ReceiverType, value: Record<string, unknown>) => {
    const existing = named(type);
    const merged = receiverSchema.safeParse({ ...(existing ?? { type }), ...value });
    if (!merged.success) {
      for (const issue of merged.error.issues)
        problems.push(`receiver "${type}": ${issue.path.join('.')}: ${issue.message}`);
      return;
    }
    const receiver = { ...merged.data, name: type };
    if (existing) list[list.indexOf(existing)] = receiver;
    else list.push(receiver);
  };
  if (parsed.slackWebhookUrl) put('slack', { type: 'slack', url: parsed.slackWebhookUrl });
  if (parsed.teamsWebhookUrl) put('teams', { type: 'teams', url: parsed.teamsWebhookUrl });
  if (parsed.pagerdutyRoutingKey || parsed.pagerdutyUrl) {
    put('pagerduty', {
      type: 'pagerduty',
      ...(parsed.pagerdutyRoutingKey ? { routingKey: parsed.pagerdutyRoutingKey } : {}),
      ...(parsed.pagerdutyUrl ? { url: parsed.pagerdutyUrl } : {}),
    });
  }
  if (parsed.webhookUrl || parsed.webhookSecret) {
    put('webhook', {
      type: 'webhook',
      ...(parsed.webhookUrl ? { url: parsed.webhookUrl } : {}),
      ...(parsed.webhookSecret ? { secret: parsed.webhookSecret } : {}),
    });
  }
  if (parsed.alertmanagerUrl) put('alertmanager', { type: 'alertmanager', url: parsed.alertmanagerUrl });
  const seen = new Set<string>();
  for (const r of list) {
    if (seen.has(r.name)) problems.push(`receivers: the name "${r.name}" is used twice`);
    seen.add(r.name);
    if (r.name === 'email' && r.type !== 'email')
      problems.push('receivers: the name "email" is the email receiver\'s');
    if (r.type === 'email' && r.name !== 'email')
      problems.push('receivers: the email receiver is named "email"');
  }
  return list;
}

/** Rules between keys, checked on the raw values so they are reported even when other keys are invalid. */
function crossChecks(raw: Record<string, unknown>): string[] {
  const found: string[] = [];
  const admin = hostPort.safeParse(raw.adminListen ?? '127.0.0.1:8081');
  const listen = hostPort.safeParse(raw.listen ?? '0.0.0.0:8080');
  if (admin.success && !isLoopback(admin.data.host) && !raw.adminToken) {
    found.push(
      `${describeKey(['adminToken'])}: SCIMTAP_ADMIN_TOKEN is required when the admin listener (${admin.data.host}) is not loopback`,
    );
  }
  if (Boolean(raw.tlsCert) !== Boolean(raw.tlsKey)) {
    found.push(`${describeKey(['tlsCert'])}: SCIMTAP_TLS_CERT and SCIMTAP_TLS_KEY go together`);
  }
  if (admin.success && listen.success && admin.data.port !== 0 && admin.data.port === listen.data.port) {
    const sameHost = admin.data.host === listen.data.host || ['0.0.0.0', '::'].includes(listen.data.host);
    if (sameHost) found.push(`${describeKey(['adminListen'])}: must not use the proxy listener's port`);
  }
  return found;
}

function emptyToUndefined(v: string | undefined) {
  return v === undefined || v === '' ? undefined : v;
}

function describeKey(path: PropertyKey[]): string {
  const key = String(path[0] ?? '');
  const source = sources[key as keyof typeof sources];
  const rest = path.slice(1).map(String).join('.');
  if (source) return `${source[0]} (--${source[1]})${rest ? `.${rest}` : ''}`;
  return path.map(String).join('.') || 'config';
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

/** The admin listener's URL, used as the default base of links in emails. */
export function adminBaseUrl(config: Pick<Config, 'adminListen' | 'publicUrl'>, boundPort?: number): string {
  if (config.publicUrl) return config.publicUrl.replace(/\/+$/, '');
  const { host, port } = config.adminListen;
  const shown = host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  return `http://${shown}:${boundPort ?? port}`;
}
