import { nearest } from './nearest.js';

// Where each setting comes from (its environment variable and CLI flag), what --help says of it, and the
// settings given at all. The only reader of process.env's names (STYLE.md §1).

/** Each key: its environment variable and CLI flag. */
export const sources = {
  upstream: ['SCIMTAP_UPSTREAM', 'upstream'],
  listen: ['SCIMTAP_LISTEN', 'listen'],
  adminListen: ['SCIMTAP_ADMIN_LISTEN', 'admin-listen'],
  adminToken: ['SCIMTAP_ADMIN_TOKEN', 'admin-token'],
  db: ['SCIMTAP_DB', 'db'],
  replica: ['SCIMTAP_REPLICA', 'replica'],
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
  db: [
    './data/scimtap.db',
    'SQLite file, created with its folder (demo: ./data/scimtap-demo.db), or a postgres:// URL shared by replicas',
  ],
  replica: [
    '<hostname>:<pid>',
    "this replica's name on a PostgreSQL store: /api/health, /metrics' replica label, the lead",
  ],
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

export const knownVariables = new Set<string>([
  ...Object.values(sources).map(([env]) => env),
  'SCIMTAP_CONFIG',
]);

/** A SCIMTAP_* variable nobody reads is most likely a typo of one that matters. */
export function unknownVariables(env: Record<string, string | undefined>): string[] {
  const found: string[] = [];
  for (const name of Object.keys(env)) {
    if (!name.startsWith('SCIMTAP_') || knownVariables.has(name)) continue;
    const near = nearest(name, [...knownVariables]);
    found.push(`unknown setting ${name} is ignored${near ? ` (did you mean ${near}?)` : ''}`);
  }
  return found;
}

/** The settings given at all (variables, flags, a config file): any of them means "not the demo". */
export function settingsGiven(
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

export function emptyToUndefined(v: string | undefined) {
  return v === undefined || v === '' ? undefined : v;
}

export function describeKey(path: PropertyKey[]): string {
  const key = String(path[0] ?? '');
  const source = sources[key as keyof typeof sources];
  const rest = path.slice(1).map(String).join('.');
  if (source) return `${source[0]} (--${source[1]})${rest ? `.${rest}` : ''}`;
  return path.map(String).join('.') || 'config';
}
