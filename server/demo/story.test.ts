import { describe, expect, it } from 'vitest';
import { chapterFor, conflictingUserNames, preexistingAccounts, STORY_LENGTH } from './story.js';

describe('the demo story', () => {
  it.each([
    // the initial cycle is healthy apart from the baseline 5xx
    [1, { tokenExpired: false, expireTokenAfter: null, disableShare: 0 }],
    // cycle 4: the token expires mid-cycle
    [4, { tokenExpired: false, expireTokenAfter: 4 }],
    // cycle 5: still expired from the start, so the probe fails
    [5, { tokenExpired: true, expireTokenAfter: null }],
    // cycle 6: recovered
    [6, { tokenExpired: false, expireTokenAfter: null }],
    // cycle 7: many users disabled at once
    [7, { disableShare: 0.35 }],
    // cycle 8: 5xx storm; cycle 9: throttling
    [8, { errorRate: 0.2 }],
    [9, { throttleRate: 0.2 }],
    // cycle 10: re-enable, so the story can repeat
    [10, { reenable: true }],
    // cycle 14 is chapter 4 again: the story loops
    [14, { expireTokenAfter: 4 }],
    [15, { tokenExpired: true }],
  ])('cycle %i', (cycle, expected) => {
    const c = chapterFor(cycle);
    const flat = { ...c, ...c.faults };
    expect(flat).toMatchObject(expected);
    expect(c.note).not.toBe('');
  });

  it('lasts STORY_LENGTH cycles and restores every fault it sets', () => {
    expect(chapterFor(STORY_LENGTH + 1).chapter).toBe(1);
    for (let n = 1; n <= STORY_LENGTH; n++) {
      expect(Object.keys(chapterFor(n).faults).sort()).toEqual([
        'errorRate',
        'latencyMs',
        'throttleRate',
        'tokenExpired',
      ]);
    }
  });

  it('picks two conflicting users', () => {
    const names = Array.from({ length: 20 }, (_, i) => `u${i}`);
    expect(conflictingUserNames(names)).toEqual(['u2', 'u11']);
  });
});

describe('accounts the demo app already holds', () => {
  it('are every 12th user, never a conflicting one, with stale attributes', () => {
    const names = Array.from({ length: 30 }, (_, i) => `first${i}.last${i}.${i + 1}@contoso.example`);
    const accounts = preexistingAccounts(names);
    expect(accounts.map((a) => a.userName)).toEqual([names[5], names[17], names[29]]);
    expect(accounts[0]).toMatchObject({
      displayName: 'LAST5, first5',
      active: true,
      title: 'Imported account',
    });
  });
});
