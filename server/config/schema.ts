import { z } from 'zod';
import { ruleCodes } from '../detect/types.js';
import { cidrProblems, splitList } from '../proxy/cidr.js';
import type { AppConfig } from './apps.js';
import type { StoreConfig } from './store.js';

// What a valid configuration is: the zod schemas, the defaults they carry, and the Config type built from them.

export interface HostPort {
  host: string;
  port: number;
}

export const hostPort = z.string().transform((value, ctx): HostPort => {
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

/** Some of the rules' settings, each as strict as in rulesSchema but without its default: an app's overrides. */
const ruleOverridesSchema = z
  .object(
    Object.fromEntries(Object.entries(rulesSchema.shape).map(([k, v]) => [k, v.unwrap().optional()])) as {
      [K in keyof typeof rulesSchema.shape]: z.ZodOptional<
        ReturnType<(typeof rulesSchema.shape)[K]['unwrap']>
      >;
    },
  )
  .strict();

/**
 * An app id is the first segment of its Tenant URL (`https://scimtap.example.com/<id>/`): lowercase letters,
 * digits and `-`, so that it needs no percent-encoding, reads the same in a URL, a metric label and a file name,
 * and cannot be a dot segment.
 */
export const appIdPattern = /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/;

/** One entry of the JSON file's `apps` list (issue 14): an app that scimtap fronts, with its own settings. */
export const appSchema = z
  .object({
    id: z.string().regex(appIdPattern, 'lowercase letters, digits and -, at most 40, e.g. "tanium-sso"'),
    name: z.string().min(1).max(120),
    upstream: httpUrl,
    /** this app's notification addresses (absent: the top-level SCIMTAP_NOTIFY_TO) */
    notifyTo: z.array(z.email('not an email address')).max(50).optional(),
    /** this app's provisioning interval (absent: the top-level SCIMTAP_CYCLE_INTERVAL_MIN) */
    cycleIntervalMinutes: z.number().int().positive().optional(),
    expectedObjects: z.number().int().positive().optional(),
    /** overrides of the top-level rules, key by key */
    rules: ruleOverridesSchema.optional(),
    /** a PEM file of extra CAs for this app's upstream */
    upstreamCa: z.string().min(1).optional(),
    /** the SQLite file this app records into (absent: config/apps.ts appDb chooses) */
    db: z.string().min(1).optional(),
  })
  .strict();
export type AppEntry = z.infer<typeof appSchema>;

export const configSchema = z
  .object({
    upstream: httpUrl.optional(),
    listen: hostPort.prefault('0.0.0.0:8080'),
    adminListen: hostPort.prefault('127.0.0.1:8081'),
    adminToken: z.string().min(16, 'must be at least 16 characters').optional(),
    db: z.string().min(1).optional(),
    /** this replica's name on a PostgreSQL store (absent: <hostname>:<pid>) */
    replica: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,62}$/, 'letters, digits and . _ : - only, at most 63 characters')
      .optional(),
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
    // A fleet of hundreds would want a store per shard; 200 keeps one process's sockets and threads sane.
    apps: z.array(appSchema).min(1, 'list at least one app, or leave `apps` out').max(200).optional(),
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
  'upstreamCa' | 'tlsCert' | 'tlsKey' | 'db' | 'receivers' | 'apps' | ReceiverShortcuts
> & {
  /** the JSON file's `apps` list, resolved (config/apps.ts); absent: SCIMTAP_UPSTREAM is the one app, at the root */
  apps?: AppConfig[];
  /**
   * The SQLite file. With a PostgreSQL store (see `store`), the URL with its password masked: shown, never opened.
   */
  db: string;
  /** what SCIMTAP_DB names: a SQLite file or a PostgreSQL URL; absent in hand-built configs means SQLite at `db` */
  store?: StoreConfig;
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
