import type { Logger } from 'pino';
import { driftFor } from './drift.js';
import type { Simulator } from './simulator/index.js';
import { chapterFor, preexistingAccounts, STORY_LENGTH } from './story.js';
import type { Target } from './target/index.js';

// What each demo app's target does cycle after cycle: the scripted story, the drift, or nothing at all.

/** Called by the app's simulator hooks: at each cycle's start (before its probe) and after each request. */
export interface Player {
  startCycle(cycle: number, simulator: Simulator): void;
  onOperation(): void;
}

/**
 * The scripted story (story.ts): each cycle's chapter sets the target's faults, may expire the token after some
 * requests of the cycle, and disables (later re-enables) a share of the users at the source.
 */
export function createStoryPlayer(target: Target, logger: Logger, users: number): Player {
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
    startCycle(cycle, simulator) {
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

/** The drift (drift.ts): from each cycle's start, the target refuses that cycle's share of users. */
export function createDriftPlayer(target: Target, logger: Logger): Player {
  return {
    onOperation() {},
    startCycle(cycle) {
      const { share, note } = driftFor(cycle);
      if (share !== target.faults.refuseUserShare) target.setFaults({ refuseUserShare: share });
      logger.info({ cycle, refuseUserShare: share }, `demo: ${note}`);
    },
  };
}

/** Straight to the target, not through the proxy: these accounts predate scimtap and Entra. Null when all were created. */
export async function seedPreexistingAccounts(target: Target, userNames: string[]): Promise<string | null> {
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
