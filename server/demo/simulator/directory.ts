import { departments, familyNames, givenNames, groupKinds, jobTitles } from './names.js';
import type { Random } from './random.js';

/**
 * The simulated source directory (what Entra reads from the tenant) next to what the simulator believes the
 * target holds. An object whose `desired` differs from its `synced` state is pending: that difference is the
 * escrow. A failed call leaves it pending, so the next cycle retries it, and memory holds only the directory.
 */

export interface UserAttrs {
  userName: string;
  externalId: string;
  givenName: string;
  familyName: string;
  displayName: string;
  email: string;
  department: string;
  jobTitle: string;
  active: boolean;
}

export interface SimUser {
  serial: number;
  /** null: deleted in the source */
  desired: UserAttrs | null;
  /** what the target holds as far as the simulator knows; null: not (yet) in the target */
  synced: UserAttrs | null;
  /** cached target id after a create or a match (Entra goes straight to /Users/{id} afterwards) */
  targetId: string | null;
}

export interface GroupAttrs {
  displayName: string;
  externalId: string;
  /** user serials */
  members: Set<number>;
}

export interface SimGroup {
  serial: number;
  desired: GroupAttrs | null;
  synced: { displayName: string; members: Set<number> } | null;
  targetId: string | null;
}

export interface Directory {
  users: Map<number, SimUser>;
  groups: Map<number, SimGroup>;
  /** population the churn keeps the directory near */
  targetUsers: number;
  domain: string;
  nextUserSerial: number;
  nextGroupSerial: number;
  usedGroupNames: Set<string>;
}

export interface DirectoryOptions {
  users: number;
  groups: number;
  membersPerGroup: number;
  domain?: string;
}

const capitalise = (s: string) =>
  s.replace(/(^|-)([a-z])/g, (_, sep: string, c: string) => `${sep}${c.toUpperCase()}`);

function newUser(dir: Directory, rand: Random): SimUser {
  const serial = dir.nextUserSerial++;
  const given = rand.pick(givenNames);
  const family = rand.pick(familyNames);
  const userName = `${given}.${family}.${serial}@${dir.domain}`;
  const desired: UserAttrs = {
    userName,
    externalId: rand.guid(),
    givenName: capitalise(given),
    familyName: capitalise(family),
    displayName: `${capitalise(given)} ${capitalise(family)}`,
    email: userName,
    department: rand.pick(departments),
    jobTitle: rand.pick(jobTitles),
    active: true,
  };
  const user: SimUser = { serial, desired, synced: null, targetId: null };
  dir.users.set(serial, user);
  return user;
}

function groupName(dir: Directory, rand: Random, serial: number): string {
  for (let attempt = 0; attempt < 4; attempt++) {
    const name = `${rand.pick(departments)} ${rand.pick(groupKinds)}`;
    if (!dir.usedGroupNames.has(name)) return name;
  }
  // Beyond the ~120 combinations, a serial keeps names unique (displayName is the group matching attribute).
  return `${rand.pick(departments)} ${rand.pick(groupKinds)} ${serial}`;
}

function newGroup(dir: Directory, rand: Random): SimGroup {
  const serial = dir.nextGroupSerial++;
  const displayName = groupName(dir, rand, serial);
  dir.usedGroupNames.add(displayName);
  const group: SimGroup = {
    serial,
    desired: { displayName, externalId: rand.guid(), members: new Set() },
    synced: null,
    targetId: null,
  };
  dir.groups.set(serial, group);
  return group;
}

export function createDirectory(rand: Random, options: DirectoryOptions): Directory {
  const dir: Directory = {
    users: new Map(),
    groups: new Map(),
    targetUsers: options.users,
    domain: options.domain ?? 'contoso.example',
    nextUserSerial: 1,
    nextGroupSerial: 1,
    usedGroupNames: new Set(),
  };
  for (let i = 0; i < options.users; i++) newUser(dir, rand);
  const serials = [...dir.users.keys()];
  for (let i = 0; i < options.groups; i++) {
    const group = newGroup(dir, rand);
    const wanted = Math.min(options.membersPerGroup, serials.length);
    // Partial Fisher-Yates over a copy: `wanted` distinct members without bias.
    const pool = serials.slice();
    for (let k = 0; k < wanted; k++) {
      const j = k + rand.int(pool.length - k);
      [pool[k], pool[j]] = [pool[j]!, pool[k]!];
      group.desired!.members.add(pool[k]!);
    }
  }
  return dir;
}

/** Expected number of source changes in one incremental cycle. */
export interface Churn {
  updates: number;
  disables: number;
  enables: number;
  deletes: number;
  creates: number;
  /** groups gaining 1–3 members */
  memberAdds: number;
  /** groups losing 1–2 members */
  memberRemoves: number;
  renames: number;
}

/** A plausible incremental cycle for a tenant of this size: a few percent of users change between cycles. */
export function defaultChurn(dir: Directory, scale = 1): Churn {
  const n = dir.targetUsers;
  const g = dir.groups.size;
  const population = dir.users.size;
  // New hires and leavers balance out so that the directory (and memory) stays near its configured size.
  const deletes = population > n * 0.95 ? 0.005 * n : 0;
  const creates = population < n * 1.05 ? 0.005 * n + Math.max(0, (n - population) * 0.2) : 0;
  return {
    updates: 0.04 * n * scale,
    disables: 0.01 * n * scale,
    enables: 0.01 * n * scale,
    deletes: deletes * scale,
    creates: creates * scale,
    memberAdds: 0.1 * g * scale,
    memberRemoves: 0.05 * g * scale,
    renames: 0.02 * g * scale,
  };
}

export interface ChangeCounts {
  updates: number;
  disables: number;
  enables: number;
  deletes: number;
  creates: number;
  memberAdds: number;
  memberRemoves: number;
  renames: number;
}

function randomLiveUser(
  dir: Directory,
  rand: Random,
  keys: number[],
  want: (u: UserAttrs) => boolean,
): SimUser | undefined {
  for (let attempt = 0; attempt < 8 && keys.length > 0; attempt++) {
    const user = dir.users.get(keys[rand.int(keys.length)]!);
    if (user?.desired && want(user.desired)) return user;
  }
  return undefined;
}

/** Applies one cycle's worth of source changes; every choice comes from `rand`, so a seed replays them. */
export function mutate(dir: Directory, rand: Random, churn: Churn): ChangeCounts {
  const done: ChangeCounts = {
    updates: 0,
    disables: 0,
    enables: 0,
    deletes: 0,
    creates: 0,
    memberAdds: 0,
    memberRemoves: 0,
    renames: 0,
  };
  const keys = [...dir.users.keys()];
  mutateUsers(dir, rand, churn, keys, done);
  mutateGroups(dir, rand, churn, keys, done);
  return done;
}

/** Updates, disables, enables, deletes and creates; `keys` (the user serials) gains the new hires. */
function mutateUsers(dir: Directory, rand: Random, churn: Churn, keys: number[], done: ChangeCounts): void {
  for (let i = rand.count(churn.updates); i > 0; i--) {
    const user = randomLiveUser(dir, rand, keys, () => true);
    if (!user) break;
    changeAttribute(rand, user);
    done.updates++;
  }
  for (let i = rand.count(churn.disables); i > 0; i--) {
    const user = randomLiveUser(dir, rand, keys, (u) => u.active);
    if (!user) break;
    user.desired = { ...user.desired!, active: false };
    done.disables++;
  }
  for (let i = rand.count(churn.enables); i > 0; i--) {
    const user = randomLiveUser(dir, rand, keys, (u) => !u.active);
    if (!user) break;
    user.desired = { ...user.desired!, active: true };
    done.enables++;
  }
  for (let i = rand.count(churn.deletes); i > 0; i--) {
    const user = randomLiveUser(dir, rand, keys, () => true);
    if (!user) break;
    deleteUser(dir, user);
    done.deletes++;
  }
  for (let i = rand.count(churn.creates); i > 0; i--) {
    const user = newUser(dir, rand);
    // A new hire usually lands in a group or two.
    const groupKeys = [...dir.groups.keys()];
    if (groupKeys.length > 0) {
      const group = dir.groups.get(rand.pick(groupKeys));
      group?.desired?.members.add(user.serial);
    }
    keys.push(user.serial);
    done.creates++;
  }
}

/** One of a user's job title, department or family name changes. */
function changeAttribute(rand: Random, user: SimUser): void {
  const d = { ...user.desired! };
  const what = rand.int(3);
  if (what === 0) d.jobTitle = rand.pick(jobTitles.filter((t) => t !== d.jobTitle));
  else if (what === 1) d.department = rand.pick(departments.filter((t) => t !== d.department));
  else {
    d.familyName = capitalise(rand.pick(familyNames.filter((f) => capitalise(f) !== d.familyName)));
    d.displayName = `${d.givenName} ${d.familyName}`;
  }
  user.desired = d;
}

/** Members added and removed, groups renamed. */
function mutateGroups(dir: Directory, rand: Random, churn: Churn, keys: number[], done: ChangeCounts): void {
  const groupKeys = [...dir.groups.keys()];
  if (groupKeys.length === 0 || keys.length === 0) return;
  for (let i = rand.count(churn.memberAdds); i > 0; i--) {
    const group = dir.groups.get(rand.pick(groupKeys));
    if (!group?.desired) continue;
    for (let k = 1 + rand.int(3); k > 0; k--) {
      const user = randomLiveUser(dir, rand, keys, () => true);
      if (user) group.desired.members.add(user.serial);
    }
    done.memberAdds++;
  }
  for (let i = rand.count(churn.memberRemoves); i > 0; i--) {
    const group = dir.groups.get(rand.pick(groupKeys));
    if (!group?.desired || group.desired.members.size === 0) continue;
    const members = [...group.desired.members];
    for (let k = 1 + rand.int(2); k > 0 && members.length > 0; k--) {
      group.desired.members.delete(members.splice(rand.int(members.length), 1)[0]!);
    }
    done.memberRemoves++;
  }
  for (let i = rand.count(churn.renames); i > 0; i--) {
    const group = dir.groups.get(rand.pick(groupKeys));
    if (!group?.desired) continue;
    const name = groupName(dir, rand, group.serial);
    if (dir.usedGroupNames.has(name)) continue;
    dir.usedGroupNames.delete(group.desired.displayName);
    dir.usedGroupNames.add(name);
    group.desired = { ...group.desired, displayName: name };
    done.renames++;
  }
}

/** Source-side delete: the user leaves every group it was in. */
export function deleteUser(dir: Directory, user: SimUser): void {
  user.desired = null;
  for (const group of dir.groups.values()) group.desired?.members.delete(user.serial);
  if (!user.targetId) dir.users.delete(user.serial);
}

/** Disables up to `count` active users (the story's "mass disable"); returns their serials. */
export function disableUsers(dir: Directory, rand: Random, count: number): number[] {
  const active = [...dir.users.values()].filter((u) => u.desired?.active);
  const chosen: number[] = [];
  while (chosen.length < count && active.length > 0) {
    const user = active.splice(rand.int(active.length), 1)[0]!;
    user.desired = { ...user.desired!, active: false };
    chosen.push(user.serial);
  }
  return chosen;
}

/** Re-enables the given users if they still exist; returns how many changed. */
export function enableUsers(dir: Directory, serials: readonly number[]): number {
  let changed = 0;
  for (const serial of serials) {
    const user = dir.users.get(serial);
    if (user?.desired && !user.desired.active) {
      user.desired = { ...user.desired, active: true };
      changed++;
    }
  }
  return changed;
}

const userFields = ['givenName', 'familyName', 'displayName', 'email', 'department', 'jobTitle'] as const;
export type UserField = (typeof userFields)[number];

/** Attributes (other than `active`) whose desired value differs from what the target holds. */
export function changedFields(desired: UserAttrs, synced: UserAttrs): UserField[] {
  return userFields.filter((f) => desired[f] !== synced[f]);
}

export function userPending(user: SimUser): boolean {
  if (!user.desired) return user.targetId !== null;
  if (!user.synced) return true;
  return user.desired.active !== user.synced.active || changedFields(user.desired, user.synced).length > 0;
}

/** Members the target can be told about: users it holds (a member id must be a target id). */
export function memberDelta(dir: Directory, group: SimGroup): { add: number[]; remove: number[] } {
  const desired = group.desired?.members ?? new Set<number>();
  const synced = group.synced?.members ?? new Set<number>();
  const add: number[] = [];
  const remove: number[] = [];
  for (const serial of desired) {
    if (synced.has(serial)) continue;
    const user = dir.users.get(serial);
    if (user?.targetId && user.synced) add.push(serial);
  }
  for (const serial of synced) if (!desired.has(serial)) remove.push(serial);
  return { add, remove };
}

export function groupPending(dir: Directory, group: SimGroup): boolean {
  if (!group.desired) return group.targetId !== null;
  if (!group.synced) return true;
  if (group.desired.displayName !== group.synced.displayName) return true;
  const { add, remove } = memberDelta(dir, group);
  return add.length > 0 || remove.length > 0;
}
