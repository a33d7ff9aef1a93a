import { existsSync, rmSync } from 'node:fs';
import type { Logger } from 'pino';
import { type Config, defaultDbPath } from '../config.js';
import { type Scimtap, type StartOptions, startScimtap } from '../main.js';
import { markDatabase, probeDatabase } from '../store/open.js';
import { type CycleInfo, createSimulator, type Simulator, type SimulatorSummary } from './simulator/index.js';
import { mulberry32 } from './simulator/random.js';
import { chapterFor, conflictingUserNames, preexistingAccounts, STORY_LENGTH } from './story.js';
import { startTarget, type Target } from './target/index.js';

export interface DemoOptions extends StartOptions {
  /** time between simulated cycle starts; compressed from Entra's 40 minutes to one */
  intervalMs?: number;
  users?: number;
  groups?: number;
  membersPerGroup?: number;
  /** requests per second: 25 is what Entra expects a gallery app to handle */
  rate?: number;
  seed?: number;
  /** play the scripted story (token expiry, mass disable, 5xx, 429); off: a healthy tenant */
  story?: boolean;
  /** for tests and the banner: called at each simulated cycle's start and end */
  onCycle?(info: CycleInfo): void;
  /** where the banner goes; nothing is printed when unset */
  print?(text: string): void;
}

export interface Demo {
  scimtap: Scimtap;
  target: Target;
  simulator: Simulator;
  logger: Logger;
  /** the simulator's run, settled after stop() */
  done: Promise<SimulatorSummary | undefined>;
  stop(): Promise<void>;
}

/** SQLite's header field for "which application wrote this file": 'SCMD', scimtap demo. */
export const DEMO_APPLICATION_ID = 0x53434d44;

/**
 * The demo's database starts fresh so the story starts at cycle 1. It resets only a file the demo wrote (marked
 * with DEMO_APPLICATION_ID, or the default demo path), and refuses a file that holds anything else: a demo
 * pointed at a real database by a leftover SCIMTAP_DB must not mix simulated traffic into real records.
 */
export function prepareDemoDatabase(path: string): void {
  if (path === ':memory:' || !existsSync(path)) return;
  let applicationId: number;
  let recorded: boolean;
  try {
    ({ applicationId, recorded } = probeDatabase(path));
  } catch (err) {
    throw new Error(`SCIMTAP_DB (${path}): the demo cannot read it: ${(err as Error).message}`);
  }
  if (applicationId === DEMO_APPLICATION_ID || path === DEMO_DB) {
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${path}${suffix}`, { force: true });
    return;
  }
  if (recorded) {
    throw new Error(
      `SCIMTAP_DB (${path}) holds recorded traffic that is not the demo's, and the demo never writes into it. Unset SCIMTAP_DB for the demo's own file (${DEMO_DB}), or name a new one.`,
    );
  }
}

// Compressed time: Entra's 40-minute cadence becomes one minute, so the dashboard's cycle timing matches.
const DEMO_TIMING = { cycleIntervalMin: 1, cycleGapMinutes: 0.5, stalledGraceMinutes: 2 };
const DEMO_DB = defaultDbPath.demo;

/**
 * Demo mode (ARCHITECTURE §2): the embedded Tanium-like target behind scimtap's real proxy path, fed by the
 * Entra-like simulator through the proxy listener, with a scripted story of failures.
 */
export async function startDemo(config: Config, options: DemoOptions = {}): Promise<Demo> {
  const {
    intervalMs = 60_000,
    users = 200,
    groups = 20,
    membersPerGroup = 12,
    rate = 25,
    seed = 20_170_601,
    story = true,
    onCycle,
    print,
    ...startOptions
  } = options;

  const db = config.db;
  prepareDemoDatabase(db);
  const demoConfig = withDemoTiming(config);

  const { target, scimtap } = await startTargetAndScimtap(demoConfig, startOptions, seed);
  const logger = scimtap.logger;
  // Marks the file as the demo's: the next demo may reset it, and nothing else is ever taken for it.
  markDatabase(scimtap.db, DEMO_APPLICATION_ID);

  const player = story ? createStoryPlayer(target, logger, users) : null;
  const simulator = createSimulator({
    target: loopbackUrl(scimtap.proxyUrl),
    token: target.token,
    users,
    groups,
    membersPerGroup,
    cycles: 0,
    intervalMs,
    rate,
    seed,
    dialect: '2017',
    tlsInsecure: true,
    onOperation() {
      player?.onOperation();
    },
    onCycle(info) {
      if (info.phase === 'start') {
        player?.startChapter(info.cycle, simulator);
      } else {
        const { cycle, kind, requests, failures, aborted } = info;
        logger.info({ cycle, kind, requests, failures, aborted }, 'demo: simulated cycle finished');
      }
      onCycle?.(info);
    },
  });
  if (story) {
    target.setFaults({ conflictUserNames: conflictingUserNames(simulator.userNames()) });
    const failure = await seedPreexistingAccounts(target, simulator.userNames());
    if (failure !== null) {
      await scimtap.stop();
      await target.close();
      throw new Error(`demo: could not seed the target: ${failure}`);
    }
  }

  const done = simulator.run().catch((err: unknown) => {
    logger.error({ err }, 'demo: the simulator stopped unexpectedly');
    return undefined;
  });

  print?.(banner({ scimtap, target, intervalMs, users, groups, db, story, appName: demoConfig.appName }));

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      simulator.stop();
      await done;
      await scimtap.stop();
      await target.close();
    })();
    return stopping;
  };
  return { scimtap, target, simulator, logger, done, stop };
}

/** The target, then scimtap in front of it; the target is closed again if scimtap cannot start. */
async function startTargetAndScimtap(
  config: Config,
  startOptions: StartOptions,
  seed: number,
): Promise<{ target: Target; scimtap: Scimtap }> {
  // Fault dice come from the seed too, so a demo run is reproducible apart from timing.
  const target = await startTarget({ port: 0, host: '127.0.0.1', faults: { random: mulberry32(seed + 1) } });
  try {
    return { target, scimtap: await startScimtap(config, { ...startOptions, upstream: target.url }) };
  } catch (err) {
    await target.close();
    throw err;
  }
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

/**
 * The scripted story: each cycle's chapter sets the target's faults, may expire the token after some requests
 * of the cycle, and disables (later re-enables) a share of the users at the source.
 */
function createStoryPlayer(target: Target, logger: Logger, users: number) {
  let cycleRequests = 0;
  let expireAfter: number | null = null;
  let disabledByStory: number[] = [];
  return {
    onOperation() {
      cycleRequests++;
      if (expireAfter !== null && cycleRequests >= expireAfter) {
        target.setFaults({ tokenExpired: true });
        expireAfter = null;
      }
    },
    startChapter(cycle: number, simulator: Simulator) {
      cycleRequests = 0;
      const chapter = chapterFor(cycle);
      target.setFaults(chapter.faults);
      expireAfter = chapter.expireTokenAfter;
      if (chapter.disableShare > 0) {
        disabledByStory = simulator.disableUsers(Math.round(users * chapter.disableShare));
      }
      if (chapter.reenable) {
        simulator.enableUsers(disabledByStory);
        disabledByStory = [];
      }
      logger.info({ cycle, chapter: `${chapter.chapter}/${STORY_LENGTH}` }, `demo: ${chapter.note}`);
    },
  };
}

/** Straight to the target, not through the proxy: these accounts predate scimtap and Entra. Null when all were created. */
async function seedPreexistingAccounts(target: Target, userNames: string[]): Promise<string | null> {
  for (const account of preexistingAccounts(userNames)) {
    const res = await fetch(`${target.url}/Users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${target.token}`, 'content-type': 'application/scim+json' },
      body: JSON.stringify(account),
    });
    if (res.status !== 201) return `HTTP ${res.status} ${await res.text()}`;
  }
  return null;
}

/** The proxy may listen on a wildcard address; the simulator connects to it over loopback. */
export function loopbackUrl(url: string): string {
  const u = new URL(url);
  if (u.hostname === '0.0.0.0') u.hostname = '127.0.0.1';
  else if (u.hostname === '[::]') u.hostname = '[::1]';
  return u.toString().replace(/\/$/, '');
}

function banner(d: {
  scimtap: Scimtap;
  target: Target;
  intervalMs: number;
  users: number;
  groups: number;
  db: string;
  story: boolean;
  appName: string;
}): string {
  const seconds = Math.round(d.intervalMs / 1000);
  const lines = [
    '',
    `  scimtap DEMO — SCIMTAP_UPSTREAM is not set, so scimtap watches a simulated Entra ID provisioning ${d.appName}.`,
    '',
    `  Dashboard    ${d.scimtap.adminUrl}`,
    `  Proxy        ${d.scimtap.proxyUrl}  →  ${d.appName}: an embedded Tanium-like SCIM target ${d.target.url}`,
    `  Token        ${d.target.token}  (the target's bearer token, for your own curl calls)`,
    `  Database     ${d.db}${d.db === DEMO_DB ? ' (reset at each demo start)' : ''}`,
    '',
    `  An Entra-like client sends a provisioning cycle every ${seconds} s (Entra: every 40 min): ${d.users} users, ${d.groups} groups.`,
  ];
  if (d.story) {
    lines.push(
      '  The story: two users always conflict (409); cycle 4 the token expires (401) until cycle 6;',
      '  cycle 7 disables many users; cycle 8 brings 500s, cycle 9 throttling; then it starts over.',
    );
  }
  lines.push(
    '',
    '  To watch your real app instead:  SCIMTAP_UPSTREAM=https://tenant.example.com/scim/v2 npm start',
    '',
    '',
  );
  return lines.join('\n');
}
