import type { Logger } from 'pino';
import { createDriftPlayer, createStoryPlayer, type Player, seedPreexistingAccounts } from './players.js';
import { type CycleInfo, createSimulator, type Simulator, type SimulatorSummary } from './simulator/index.js';
import { mulberry32 } from './simulator/random.js';
import { conflictingUserNames } from './story.js';
import { startTarget, type Target } from './target/index.js';

// The demo's three apps (issue 14): one Entra tenant provisioning into Tanium SSO (the scripted story), a
// healthy SaaS app and an app drifting into escrow. Each has its own embedded target and its own simulated
// provisioning job, as each Entra enterprise app has its own job.

export const DEMO_APP_IDS = ['tanium', 'contoso-expenses', 'fabrikam-hr'] as const;
export type DemoAppId = (typeof DEMO_APP_IDS)[number];

export interface DemoAppSize {
  users?: number;
  groups?: number;
  membersPerGroup?: number;
  /** requests per second; 0 sends as fast as the target answers */
  rate?: number;
}

export interface DemoAppSpec {
  id: DemoAppId;
  name: string;
  /** what a newcomer sees it do, for the banner */
  about: string;
  script: 'story' | 'healthy' | 'drift';
  size: Required<DemoAppSize>;
  /** multiplies the source changes of each incremental cycle */
  churn: number;
  /** added to the demo's seed, so each app has its own users and dice and a seed replays all three */
  seedOffset: number;
}

/**
 * The apps' specs. Tanium's name and size are the demo's options as before apps existed; the other two are
 * small (5 req/s each beside Tanium's 25) so the three stay light on a small machine.
 */
export function demoAppSpecs(tanium: {
  name: string;
  size: Required<DemoAppSize>;
  story: boolean;
}): DemoAppSpec[] {
  return [
    {
      id: 'tanium',
      name: tanium.name,
      about: tanium.story
        ? 'the scripted story: two users always conflict (409); cycle 4 the token expires (401) until cycle 6; cycle 7 disables many users; cycle 8 brings 500s, cycle 9 throttling; then it starts over'
        : 'a healthy tenant (the story is off)',
      script: tanium.story ? 'story' : 'healthy',
      size: tanium.size,
      churn: 1,
      seedOffset: 0,
    },
    {
      id: 'contoso-expenses',
      name: 'Contoso Expenses (demo)',
      about: 'a healthy SaaS app: every call succeeds, cycle after cycle',
      script: 'healthy',
      size: { users: 40, groups: 4, membersPerGroup: 8, rate: 5 },
      churn: 1,
      seedOffset: 1_000,
    },
    {
      id: 'fabrikam-hr',
      name: 'Fabrikam HR (demo)',
      about:
        'drifting into escrow: from cycle 3 it refuses a growing share of users (400 invalidValue, 409 uniqueness), so it goes healthy, then degraded (objects stuck), then over Entra’s escrow threshold',
      script: 'drift',
      size: { users: 80, groups: 6, membersPerGroup: 10, rate: 5 },
      // An HR-fed tenant changes often: enough calls per cycle for the escrow share to mean something.
      churn: 3,
      seedOffset: 2_000,
    },
  ];
}

/** An app of the running demo: its embedded target and its simulated provisioning job. */
export interface DemoApp {
  id: DemoAppId;
  name: string;
  target: Target;
  simulator: Simulator;
  /** the simulator's run, settled after stop() */
  done: Promise<SimulatorSummary | undefined>;
}

/** The app's target; its fault dice come from the seed too, so a demo run is reproducible apart from timing. */
export function startAppTarget(spec: DemoAppSpec, seed: number): Promise<Target> {
  const appSeed = seed + spec.seedOffset;
  return startTarget({
    port: 0,
    host: '127.0.0.1',
    faults: { random: mulberry32(appSeed + 1), refuseSalt: appSeed },
  });
}

/**
 * The app's simulated job against its Tenant URL (`tenantUrl`, the proxy listener's `/<id>`), with the script
 * its spec names; Tanium's target gets the story's conflicting and preexisting accounts before it runs.
 */
export async function createAppJob(o: {
  spec: DemoAppSpec;
  target: Target;
  tenantUrl: string;
  intervalMs: number;
  seed: number;
  logger: Logger;
  /** awaited: a test may hold the app's job at a cycle boundary */
  onCycle(info: CycleInfo): void | Promise<void>;
}): Promise<Simulator> {
  const { spec, target, logger } = o;
  const player: Player | null =
    spec.script === 'story'
      ? createStoryPlayer(target, logger, spec.size.users)
      : spec.script === 'drift'
        ? createDriftPlayer(target, logger)
        : null;
  const simulator = createSimulator({
    target: o.tenantUrl,
    token: target.token,
    ...spec.size,
    churn: spec.churn,
    cycles: 0,
    intervalMs: o.intervalMs,
    seed: o.seed + spec.seedOffset,
    dialect: '2017',
    tlsInsecure: true,
    onOperation: () => player?.onOperation(),
    onCycle(info) {
      if (info.phase === 'start') player?.startCycle(info.cycle, simulator);
      else {
        const { cycle, kind, requests, failures, aborted } = info;
        logger.info({ cycle, kind, requests, failures, aborted }, 'demo: simulated cycle finished');
      }
      return o.onCycle(info);
    },
  });
  if (spec.script === 'story') {
    target.setFaults({ conflictUserNames: conflictingUserNames(simulator.userNames()) });
    const failure = await seedPreexistingAccounts(target, simulator.userNames());
    if (failure !== null) throw new Error(`demo: could not seed ${spec.name}'s target: ${failure}`);
  }
  return simulator;
}
