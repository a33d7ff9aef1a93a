import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import type { z } from 'zod';
import { resolveAppEntries } from './apps.js';
import { ConfigError, describeIssue } from './problems.js';
import {
  type Command,
  type Config,
  configSchema,
  DEMO_APP_NAME,
  defaultDbPath,
  type HostPort,
  hostPort,
  type ReceiverConfig,
  type ReceiverType,
  receiverSchema,
} from './schema.js';
import { describeKey, emptyToUndefined, settingsGiven, sources, unknownVariables } from './sources.js';
import { describeStore, postgresUrlProblem, storeFromSetting } from './store.js';

// Turning the environment, flags and JSON file into a Config, with the checks between keys and the demo's rules.

/** Merge defaults < JSON file < environment < CLI flags, validate, and report every problem at once. */
export function loadConfig(
  env: Record<string, string | undefined> = process.env,
  argv: string[] = [],
  readFile: (path: string) => string = (p) => readFileSync(p, 'utf8'),
  { command = 'tool' }: { command?: Command } = {},
): Config {
  const problems: string[] = [];
  const warnings = unknownVariables(env);
  const { raw, flags, configPath } = readSettings(env, argv, readFile, problems);

  const result = configSchema.safeParse(raw);
  if (!result.success) {
    for (const issue of result.error.issues) problems.push(...describeIssue(issue, raw));
  }
  problems.push(...crossChecks(raw));
  // Demo mode must be unmistakable (a misspelt SCIMTAP_UPSTREAM used to start it quietly, into the real database).
  const given = settingsGiven(env, flags, configPath);
  if (command === 'serve' && !raw.upstream && raw.apps === undefined && given.length > 0) {
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
    apps: appEntries,
    ...parsed
  } = result.data;
  const readPem = (path: string, key: string) => {
    try {
      return readFile(path);
    } catch (err) {
      problems.push(`${key}: cannot read ${path}: ${(err as Error).message}`);
      return undefined;
    }
  };
  const pem = (key: 'upstreamCa' | 'tlsCert' | 'tlsKey') => {
    const path = parsed[key];
    return path ? readPem(path, describeKey([key])) : undefined;
  };
  const mode = command === 'demo' || (!parsed.upstream && !appEntries) ? 'demo' : 'proxy';
  const store = storeFromSetting(parsed.db ?? defaultDbPath[mode]);
  const urlProblem = store.kind === 'postgres' && postgresUrlProblem(store.url);
  if (urlProblem) problems.push(`${describeKey(['db'])}: ${urlProblem}`);
  const config: Config = {
    ...parsed,
    db: describeStore(store),
    store,
    upstreamCa: pem('upstreamCa'),
    tlsCert: pem('tlsCert'),
    tlsKey: pem('tlsKey'),
    mode,
    warnings,
    receivers,
  };
  if (appEntries && mode === 'proxy') {
    const { apps, problems: appProblems } = resolveAppEntries(appEntries, config, readPem);
    problems.push(...appProblems);
    config.apps = apps;
  }
  if (mode === 'demo') Object.assign(config, demoOverrides(raw, warnings));
  if (problems.length > 0) throw new ConfigError(problems, warnings);
  return config;
}

/**
 * The unvalidated settings: the JSON file's keys, overridden by the environment, overridden by the flags.
 * Problems reading the flags or the file are added to `problems`; what could be read is still returned.
 */
function readSettings(
  env: Record<string, string | undefined>,
  argv: string[],
  readFile: (path: string) => string,
  problems: string[],
): { raw: Record<string, unknown>; flags: Record<string, string | undefined>; configPath?: string } {
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
  return { raw, flags, configPath };
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
  const receiversGiven = Array.isArray(raw.receivers) && raw.receivers.length > 0;
  if (ignored.length > 0 || receiversGiven || raw.apps !== undefined) {
    const names: string[] = ignored.map((k) => sources[k][0]);
    if (receiversGiven) names.push('the receivers list');
    if (raw.apps !== undefined) names.push('the apps list');
    warnings.push(
      `demo mode ignores ${names.join(', ')}: the demo talks to its own embedded app and never sends email or alerts`,
    );
  }
  return {
    // The embedded target plays Tanium SSO's SCIM API, so the banner, emails and dashboard name it, as they
    // would name the real app; the "(demo)" keeps a screenshot from passing for production.
    ...(raw.appName === undefined || raw.appName === '' ? { appName: DEMO_APP_NAME } : {}),
    upstream: undefined,
    apps: undefined,
    smtpUrl: undefined,
    notifyTo: [],
    receivers: [],
    listen:
      raw.listen === undefined ? { host: '127.0.0.1', port: 8080 } : (hostPort.parse(raw.listen) as HostPort),
  };
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
