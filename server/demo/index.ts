import type { Logger } from 'pino';
import type { AppConfig } from '../config/apps.js';
import type { Config } from '../config.js';
import { type Scimtap, type StartOptions, startScimtap } from '../main.js';
import { markDatabase } from '../store/open.js';
import {
  createAppJob,
  DEMO_APP_IDS,
  type DemoApp,
  type DemoAppId,
  type DemoAppSize,
  type DemoAppSpec,
  demoAppSpecs,
  startAppTarget,
} from './apps.js';
import { banner } from './banner.js';
import { DEMO_APPLICATION_ID, DEMO_DB, demoDbPath, prepareDemoDatabase } from './database.js';
import type { CycleInfo, Simulator, SimulatorSummary } from './simulator/index.js';
import type { Target } from './target/index.js';

export { DEMO_APP_IDS, type DemoApp, type DemoAppId, type DemoAppSize } from './apps.js';
export { DEMO_APPLICATION_ID, prepareDemoDatabase } from './database.js';

export interface DemoOptions extends StartOptions {
  /** time between simulated cycle starts, for every app; compressed from Entra's 40 minutes to one */
  intervalMs?: number;
  /** Tanium's users, groups, members per group and rate, as before the demo had several apps */
  users?: number;
  groups?: number;
  membersPerGroup?: number;
  /** Tanium's requests per second: 25 is what Entra expects a gallery app to handle */
  rate?: number;
  /** the other apps' sizes, or false to leave an app out (a test of one app's pages runs Tanium alone) */
  apps?: Partial<Record<DemoAppId, DemoAppSize | false>>;
  seed?: number;
  /** Tanium plays the scripted story (token expiry, mass disable, 5xx, 429); off: a healthy tenant */
  story?: boolean;
  /** for tests and the banner: called at each of Tanium's simulated cycles' start and end */
  onCycle?(info: CycleInfo): void;
  /** called at each simulated cycle's start and end, of every app; awaited, so a test can hold a cycle boundary */
  onAppCycle?(app: DemoAppId, info: CycleInfo): void | Promise<void>;
  /** where the banner goes; nothing is printed when unset */
  print?(text: string): void;
}

export interface Demo {
  scimtap: Scimtap;
  /** Tanium's target and simulator (the first running app's when the options leave Tanium out) */
  target: Target;
  simulator: Simulator;
  /** that simulator's run, settled after stop() */
  done: Promise<SimulatorSummary | undefined>;
  /** every running app by id */
  apps: Partial<Record<DemoAppId, DemoApp>>;
  logger: Logger;
  stop(): Promise<void>;
}

// Compressed time: Entra's 40-minute cadence becomes one minute, so the dashboard's cycle timing matches.
const DEMO_TIMING = { cycleIntervalMin: 1, cycleGapMinutes: 0.5, stalledGraceMinutes: 2 };

/**
 * Demo mode (ARCHITECTURE §2): three embedded SCIM apps behind scimtap's real proxy path, each fed by its own
 * Entra-like simulator through the proxy listener at its Tenant URL (`/<id>/`): Tanium SSO with a scripted
 * story of failures, a healthy app, and an app drifting into escrow.
 */
export async function startDemo(config: Config, options: DemoOptions = {}): Promise<Demo> {
  const { intervalMs = 60_000, seed = 20_170_601, story = true, print, ...rest } = options;
  const { onCycle, onAppCycle, users = 200, groups = 20, membersPerGroup = 12, rate = 25, ...more } = rest;
  const { apps: sizes = {}, ...startOptions } = more;
  const specs = selectSpecs(
    demoAppSpecs({ name: config.appName, size: { users, groups, membersPerGroup, rate }, story }),
    sizes,
  );
  const several = specs.length > 1;
  if (several) prepareDemoDatabase(config.db, DEMO_DB, { reset: false });
  for (const spec of specs)
    prepareDemoDatabase(demoDbPath(config.db, spec.id, several), demoDbPath(DEMO_DB, spec.id, several));

  const { targets, scimtap } = await startTargetsAndScimtap(config, specs, startOptions, seed);
  const logger = scimtap.logger;
  const apps: Partial<Record<DemoAppId, DemoApp>> = {};
  const stopAll = async () => {
    for (const app of Object.values(apps)) app.simulator.stop();
    await Promise.all(Object.values(apps).map((a) => a.done));
    await scimtap.stop();
    await Promise.all(targets.map((t) => t.close()));
  };
  try {
    for (const [i, spec] of specs.entries()) {
      // Marks the file as the demo's: the next demo may reset it, and nothing else is ever taken for it.
      markDatabase(scimtap.apps[spec.id]!.db, DEMO_APPLICATION_ID);
      const appLogger = logger.child({ appId: spec.id });
      const simulator = await createAppJob({
        spec,
        target: targets[i]!,
        tenantUrl: `${loopbackUrl(scimtap.proxyUrl)}/${spec.id}`,
        intervalMs,
        seed,
        logger: appLogger,
        onCycle(info) {
          if (spec.id === 'tanium') onCycle?.(info);
          return onAppCycle?.(spec.id, info);
        },
      });
      apps[spec.id] = {
        id: spec.id,
        name: spec.name,
        target: targets[i]!,
        simulator,
        done: Promise.resolve(undefined),
      };
    }
  } catch (err) {
    await stopAll();
    throw err;
  }
  for (const app of Object.values(apps)) {
    app.done = app.simulator.run().catch((err: unknown) => {
      logger.error({ err, appId: app.id }, 'demo: the simulator stopped unexpectedly');
      return undefined;
    });
  }

  print?.(banner({ scimtap, specs, apps, intervalMs, db: config.db, several }));

  let stopping: Promise<void> | undefined;
  const first = apps.tanium ?? Object.values(apps)[0]!;
  return {
    scimtap,
    target: first.target,
    simulator: first.simulator,
    done: first.done,
    apps,
    logger,
    stop: () => {
      stopping ??= stopAll();
      return stopping;
    },
  };
}

/** The apps the options keep, in the demo's order, with their sizes overridden. */
function selectSpecs(specs: DemoAppSpec[], sizes: DemoOptions['apps'] & {}): DemoAppSpec[] {
  const kept = specs.flatMap((spec) => {
    const size = sizes[spec.id];
    if (size === false) return [];
    return [{ ...spec, size: { ...spec.size, ...size } }];
  });
  if (kept.length === 0)
    throw new Error(`demo: no app left to run (the apps are ${DEMO_APP_IDS.join(', ')})`);
  return kept;
}

/** Each app's target, then scimtap in front of them; the targets are closed again if anything fails. */
async function startTargetsAndScimtap(
  config: Config,
  specs: DemoAppSpec[],
  startOptions: StartOptions,
  seed: number,
): Promise<{ targets: Target[]; scimtap: Scimtap }> {
  const targets: Target[] = [];
  try {
    for (const spec of specs) targets.push(await startAppTarget(spec, seed));
    const apps = specs.map((spec, i) => demoAppConfig(config, spec, targets[i]!));
    return { targets, scimtap: await startScimtap({ ...withDemoTiming(config), apps }, startOptions) };
  } catch (err) {
    await Promise.all(targets.map((t) => t.close()));
    throw err;
  }
}

/**
 * An app entry as the `apps` list of a config file would give it, upstream the app's embedded target: Entra's
 * `/<id>/Users` reaches the target's `/scim/v2/Users`, as the root reached it when the demo had one app.
 */
function demoAppConfig(config: Config, spec: DemoAppSpec, target: Target): AppConfig {
  const timed = withDemoTiming(config);
  return {
    id: spec.id,
    name: spec.name,
    upstream: target.url,
    prefix: `/${spec.id}`,
    notifyTo: [],
    cycleIntervalMin: timed.cycleIntervalMin,
    rules: timed.rules,
  };
}

function withDemoTiming(config: Config): Config {
  return {
    ...config,
    cycleIntervalMin: DEMO_TIMING.cycleIntervalMin,
    rules: {
      ...config.rules,
      cycleGapMinutes: DEMO_TIMING.cycleGapMinutes,
      stalledGraceMinutes: DEMO_TIMING.stalledGraceMinutes,
    },
  };
}

/** The proxy may listen on a wildcard address; the simulator connects to it over loopback. */
export function loopbackUrl(url: string): string {
  const u = new URL(url);
  if (u.hostname === '0.0.0.0') u.hostname = '127.0.0.1';
  else if (u.hostname === '[::]') u.hostname = '[::1]';
  return u.toString().replace(/\/$/, '');
}
