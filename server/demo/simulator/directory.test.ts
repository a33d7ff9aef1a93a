import { describe, expect, it } from 'vitest';
import {
  changedFields,
  createDirectory,
  defaultChurn,
  disableUsers,
  enableUsers,
  groupPending,
  memberDelta,
  mutate,
  userPending,
} from './directory.js';
import { createRandom } from './random.js';

/** Pretends every pending change reached the target, as a healthy cycle would. */
function syncAll(dir: ReturnType<typeof createDirectory>) {
  for (const user of [...dir.users.values()]) {
    if (!user.desired) dir.users.delete(user.serial);
    else {
      user.targetId ??= `u-${user.serial}`;
      user.synced = { ...user.desired };
    }
  }
  for (const group of dir.groups.values()) {
    group.targetId ??= `g-${group.serial}`;
    group.synced = { displayName: group.desired!.displayName, members: new Set(group.desired!.members) };
  }
}

describe('the simulated directory', () => {
  it('builds the requested numbers of users, groups and distinct members, with Entra-like names', () => {
    const dir = createDirectory(createRandom(1), { users: 50, groups: 5, membersPerGroup: 8 });
    expect(dir.users.size).toBe(50);
    expect(dir.groups.size).toBe(5);
    for (const group of dir.groups.values()) expect(group.desired!.members.size).toBe(8);
    const first = dir.users.get(1)!.desired!;
    expect(first.userName).toMatch(/^[a-z]+\.[a-z-]+\.1@contoso\.example$/);
    expect(first.displayName).toBe(`${first.givenName} ${first.familyName}`);
    expect(new Set([...dir.groups.values()].map((g) => g.desired!.displayName)).size).toBe(5);
  });

  it('is the same for the same seed and differs for another', () => {
    const names = (seed: number) =>
      [
        ...createDirectory(createRandom(seed), { users: 20, groups: 2, membersPerGroup: 3 }).users.values(),
      ].map((u) => u.desired!.userName);
    expect(names(7)).toEqual(names(7));
    expect(names(7)).not.toEqual(names(8));
  });

  it('stays near its configured size over thousands of cycles (memory is bounded when running forever)', () => {
    const rand = createRandom(3);
    const dir = createDirectory(rand, { users: 200, groups: 10, membersPerGroup: 20 });
    let maxUsers = 0;
    let maxMembers = 0;
    for (let cycle = 0; cycle < 3_000; cycle++) {
      mutate(dir, rand, defaultChurn(dir));
      syncAll(dir);
      maxUsers = Math.max(maxUsers, dir.users.size);
      for (const g of dir.groups.values()) maxMembers = Math.max(maxMembers, g.desired!.members.size);
      expect(dir.usedGroupNames.size).toBe(10);
    }
    expect(maxUsers).toBeLessThanOrEqual(200 * 1.06);
    expect(dir.users.size).toBeGreaterThanOrEqual(200 * 0.9);
    // Member adds outnumber removes, but a group can never hold more than the directory.
    expect(maxMembers).toBeLessThanOrEqual(maxUsers);
  });

  it('makes an object pending when its source changes, and not otherwise', () => {
    const rand = createRandom(5);
    const dir = createDirectory(rand, { users: 10, groups: 2, membersPerGroup: 3 });
    syncAll(dir);
    expect([...dir.users.values()].some(userPending)).toBe(false);
    const user = dir.users.get(4)!;
    user.desired = { ...user.desired!, jobTitle: 'Chief Tinkerer' };
    expect(userPending(user)).toBe(true);
    expect(changedFields(user.desired, user.synced!)).toEqual(['jobTitle']);
    const [disabled] = disableUsers(dir, rand, 1);
    expect(userPending(dir.users.get(disabled!)!)).toBe(true);
    expect(enableUsers(dir, [disabled!])).toBe(1);
  });

  it('sends member ids only for users the target holds', () => {
    const dir = createDirectory(createRandom(9), { users: 6, groups: 1, membersPerGroup: 3 });
    const group = dir.groups.get(1)!;
    group.targetId = 'g-1';
    group.synced = { displayName: group.desired!.displayName, members: new Set() };
    // Nobody is provisioned yet: nothing to add, so the group is not pending.
    expect(memberDelta(dir, group)).toEqual({ add: [], remove: [] });
    expect(groupPending(dir, group)).toBe(false);
    const member = dir.users.get([...group.desired!.members][0]!)!;
    member.targetId = 'u-x';
    member.synced = { ...member.desired! };
    expect(memberDelta(dir, group).add).toEqual([member.serial]);
  });
});
