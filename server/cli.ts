import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ConfigError, configHelp, loadConfig, unavailableStore } from './config.js';
import { runRebuild } from './cycles/cli.js';
import { startDemo } from './demo/index.js';
import { runSimulate } from './demo/simulator/cli.js';
import { ReloadRefused, redactUrl, type Scimtap, startScimtap, version } from './main.js';
import { packageRoot } from './paths.js';
import { checkSmtp, checkUpstream, type StartupFacts, startupBanner } from './startup.js';
import { runMigrateStore } from './store/pg/migrate-store-cli.js';

const usage = `scimtap — a sidecar proxy that records, explains and warns about SCIM provisioning

Usage:
  scimtap [options]            forward to SCIMTAP_UPSTREAM (with nothing configured at all: the demo)
  scimtap demo [options]       the demo: three embedded SCIM apps and simulated Entra traffic, on loopback
  scimtap simulate --help      send Entra-like SCIM traffic to any SCIM endpoint
  scimtap rebuild [--db FILE]  recompute cycles and identities from the recorded operations
  scimtap migrate-store --from FILE --to URL
                               copy a SQLite database into PostgreSQL (resumable; --help for more)
  scimtap --help

${configHelp}
`;

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'simulate') return runSimulate(argv.slice(1));
  if (argv[0] === 'rebuild') return runRebuild(argv.slice(1));
  if (argv[0] === 'migrate-store') return runMigrateStore(argv.slice(1));
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(usage);
    return 0;
  }
  const command = argv[0] === 'demo' ? 'demo' : 'serve';
  const load = () =>
    loadConfig(process.env, command === 'demo' ? argv.slice(1) : argv, undefined, { command });
  let config: ReturnType<typeof loadConfig>;
  try {
    config = load();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`scimtap: ${err.message}\n\nRun scimtap --help for the options.\n`);
      return 2;
    }
    throw err;
  }
  for (const warning of config.warnings) process.stderr.write(`scimtap: warning: ${warning}\n`);
  const unavailable = config.store && unavailableStore(config.store, config);
  if (unavailable) {
    process.stderr.write(`scimtap: ${unavailable}\n`);
    return 1;
  }
  // SIGHUP's default action ends the process: one that comes during startup is said, not obeyed.
  const early = () =>
    process.stderr.write('scimtap: SIGHUP during startup ignored; send it again once started\n');
  process.on('SIGHUP', early);
  await buildDashboardIfStale();
  const scimtap =
    config.mode === 'demo'
      ? await startDemo(config, { print: (text) => process.stdout.write(text) })
      : await startScimtap(config);
  process.off('SIGHUP', early);
  if (config.mode === 'proxy') void reportStartup(scimtap as Scimtap, config);
  const onHangup = () =>
    config.mode === 'proxy'
      ? reloadFromFile(scimtap as Scimtap, load)
      : scimtap.logger.warn('SIGHUP: the demo does not reload (restart it with the settings you want)');
  process.on('SIGHUP', onHangup);
  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      scimtap.logger.info({ signal }, 'stopping');
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      process.off('SIGHUP', onHangup);
      scimtap.stop().then(resolve);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  return 0;
}

/**
 * SIGHUP (issue 14): the settings again, from the same environment, flags and file. A file with problems is
 * refused, every problem logged, and the running apps keep running; otherwise the apps are diffed and applied
 * (main.ts reload queues a reload asked for during another).
 */
function reloadFromFile(scimtap: Scimtap, load: () => ReturnType<typeof loadConfig>): void {
  const { logger } = scimtap;
  logger.info({ signal: 'SIGHUP' }, 'reloading the configuration');
  let next: ReturnType<typeof loadConfig>;
  try {
    next = load();
  } catch (err) {
    // Whatever went wrong reading it, a signal handler must not take the running proxy down.
    if (!(err instanceof ConfigError)) {
      logger.error({ err }, 'reload refused: the configuration could not be read; the running one is kept');
      return;
    }
    logger.error(
      { problems: err.problems },
      `reload refused: the configuration has ${err.problems.length} problem${err.problems.length === 1 ? '' : 's'}; the running configuration is kept:\n${err.problems.map((p) => `  - ${p}`).join('\n')}`,
    );
    return;
  }
  for (const warning of next.warnings) logger.warn(`reload: ${warning}`);
  scimtap.reload(next).catch((err) => {
    logger.error(
      { err: err instanceof ReloadRefused ? undefined : err },
      `reload refused: ${err instanceof Error ? err.message : String(err)}`,
    );
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`scimtap: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);

/**
 * Checks the upstream and SMTP once, then says what scimtap is doing: a banner for a person at a terminal, one
 * structured log line for a service manager. Neither check stops scimtap: forwarding must work regardless.
 */
async function reportStartup(scimtap: Scimtap, config: ReturnType<typeof loadConfig>): Promise<void> {
  const pipelines = Object.values(scimtap.apps);
  const [smtpCheck, ...upstreamChecks] = await Promise.all([
    checkSmtp(config.smtpUrl, 5_000),
    ...pipelines.map((p) => checkUpstream(p.app.upstream, { ca: p.app.upstreamCa })),
  ]);
  const facts: StartupFacts = {
    version,
    mode: config.mode,
    adminUrl: scimtap.adminUrl,
    apps: pipelines.map((p, i) => ({
      name: p.app.name,
      tenantUrl: `${scimtap.proxyUrl}${p.app.prefix}/`,
      upstream: redactUrl(p.app.upstream),
      db: p.config.db,
      notifyTo: p.app.notifyTo,
      upstreamCheck: upstreamChecks[i],
    })),
    smtpCheck,
  };
  const ok = smtpCheck.ok && upstreamChecks.every((c) => c.ok);
  const checks = Object.fromEntries(pipelines.map((p, i) => [p.app.id, upstreamChecks[i]]));
  scimtap.logger[ok ? 'info' : 'warn']({ upstreamChecks: checks, smtpCheck }, 'startup checks');
  if (process.stdout.isTTY) process.stdout.write(startupBanner(facts));
}

/**
 * `npm start` builds the dashboard when dist/web is missing or older than web/ (a fresh clone, a pull). A
 * failed or impossible build never stops the proxy: the admin listener then serves its "not built" page.
 */
async function buildDashboardIfStale(): Promise<void> {
  const root = packageRoot;
  const webDir = join(root, 'web');
  const configFile = join(root, 'vite.config.ts');
  const index = join(root, 'dist', 'web', 'index.html');
  if (!existsSync(webDir) || !existsSync(configFile)) return;
  const newest = Math.max(statSync(configFile).mtimeMs, newestMtime(webDir));
  if (existsSync(index) && statSync(index).mtimeMs >= newest) return;
  let viteBin: string;
  try {
    viteBin = join(dirname(createRequire(import.meta.url).resolve('vite/package.json')), 'bin', 'vite.js');
  } catch {
    process.stderr.write(
      'scimtap: dashboard not built and vite not installed (npm install; npm run build)\n',
    );
    return;
  }
  const started = Date.now();
  process.stderr.write('scimtap: building the dashboard (web/ changed since the last build)...\n');
  // In a child process: a build in this one would leave the proxy holding several hundred MB it never frees.
  const result = await new Promise<{ code: number | null; output: string }>((resolve) => {
    const child = spawn(process.execPath, [viteBin, 'build', '--config', configFile, '--logLevel', 'warn'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => {
      output += d;
    });
    child.stderr.on('data', (d) => {
      output += d;
    });
    child.on('error', (err) => resolve({ code: -1, output: err.message }));
    child.on('close', (code) => resolve({ code, output }));
  });
  if (result.code === 0) {
    process.stderr.write(`scimtap: dashboard built in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  } else {
    process.stderr.write(`scimtap: dashboard build failed, serving without it:\n${result.output.trim()}\n`);
  }
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}
