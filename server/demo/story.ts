import type { TargetFaults } from './target/index.js';

/**
 * The demo's script: what goes wrong in which cycle, so that a newcomer sees each of scimtap's findings within
 * minutes. It repeats every `STORY_LENGTH` cycles (the first one being Entra's initial cycle), so it can run
 * forever while keeping no more state than one chapter needs.
 */
export const STORY_LENGTH = 10;

export interface Chapter {
  /** 1..STORY_LENGTH */
  chapter: number;
  /** faults in force from this cycle's start (the target keeps them until a later chapter changes them) */
  faults: Partial<TargetFaults>;
  /** revoke the token after this many requests of the cycle (the probe included) */
  expireTokenAfter: number | null;
  /** share of active users the source disables this cycle */
  disableShare: number;
  /** re-enable the users a previous chapter disabled */
  reenable: boolean;
  /** what a watcher should notice, for the log */
  note: string;
}

// A few 5xx on every cycle: real apps have them, and they show per-user failures that later cycles fix.
const BASELINE: Partial<TargetFaults> = {
  tokenExpired: false,
  errorRate: 0.01,
  throttleRate: 0,
  latencyMs: 0,
};

/** Pure: the chapter for the n-th cycle (1-based). */
export function chapterFor(cycle: number): Chapter {
  const chapter = ((cycle - 1) % STORY_LENGTH) + 1;
  const base: Chapter = {
    chapter,
    faults: BASELINE,
    expireTokenAfter: null,
    disableShare: 0,
    reenable: false,
    note: '',
  };
  switch (chapter) {
    case 1:
      return {
        ...base,
        note:
          cycle === 1
            ? 'initial cycle: every user and group is looked up, then created'
            : 'a quiet incremental cycle',
      };
    case 4:
      // Expiring after the probe and a few calls makes the 401s land on real users, not only on the probe.
      return {
        ...base,
        expireTokenAfter: 4,
        note: 'the app token expires during this cycle: 401 Unauthorized',
      };
    case 5:
      return {
        ...base,
        faults: { ...BASELINE, tokenExpired: true },
        note: 'the token is still expired: the probe gets 401 and Entra skips the cycle',
      };
    case 6:
      return { ...base, note: 'a new token is in place: the changes escrowed since cycle 4 go through' };
    case 7:
      return {
        ...base,
        disableShare: 0.35,
        note: 'someone narrows the assignment scope: many users are disabled at once',
      };
    case 8:
      return {
        ...base,
        faults: { ...BASELINE, errorRate: 0.2 },
        note: 'the app has a bad day: 500 Internal Server Error on a fifth of the calls',
      };
    case 9:
      return {
        ...base,
        faults: { ...BASELINE, throttleRate: 0.2, latencyMs: 120 },
        note: 'the app throttles: 429 Too Many Requests and slower answers',
      };
    case 10:
      return { ...base, reenable: true, note: 'the scope is restored: the disabled users are enabled again' };
    default:
      return { ...base, note: 'a normal incremental cycle' };
  }
}

/** The two userNames the demo target always answers 409 for (an existing account with the same name). */
export function conflictingUserNames(userNames: readonly string[]): string[] {
  return [userNames[2], userNames[11]].filter((n): n is string => typeof n === 'string');
}

/**
 * Accounts the app already holds before provisioning starts (created by hand or by an older import): Entra's
 * initial cycle finds them by userName and updates them instead of creating them. Every 12th user, with the
 * stale attributes such an account typically has.
 */
export function preexistingAccounts(userNames: readonly string[]): Record<string, unknown>[] {
  const conflicts = new Set(conflictingUserNames(userNames));
  return userNames
    .filter((userName, i) => i % 12 === 5 && !conflicts.has(userName))
    .map((userName) => {
      const [given = 'user', family = 'unknown'] = userName.split('@')[0]!.split('.');
      return {
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
        userName,
        externalId: `legacy-${given}-${family}`,
        active: true,
        displayName: `${family.toUpperCase()}, ${given}`,
        title: 'Imported account',
        emails: [{ primary: true, type: 'work', value: userName }],
        name: { givenName: given, familyName: family },
      };
    });
}
