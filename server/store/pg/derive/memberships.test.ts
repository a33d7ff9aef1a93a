import { describe, expect, it } from 'vitest';
import { random } from '../../../../test/helpers/derive-traffic.js';
import { netMemberships } from './memberships.js';
import type { Write } from './workspace.js';

// The net effect of a batch's membership writes must leave the table as the writes one by one do (SQLite's
// statements: INSERT OR IGNORE, DELETE), whatever rows were there before: a model of the table checks both.

type MembershipWrite = Extract<Write, { table: 'memberships' }>;
type Table = Map<string, { group: number; member: string; since: number }>;
const key = (group: unknown, member: unknown) => `${group}\n${member}`;

function applyOne(table: Table, w: Write): void {
  if (w.table !== 'memberships') return;
  if (w.op === 'clearGroup') {
    for (const [k, r] of table) if (r.group === w.groupId) table.delete(k);
  } else if (w.op === 'removeEverywhere') {
    for (const [k, r] of table) if (r.member === w.member) table.delete(k);
  } else {
    const { groupIdentityId: group, memberTargetId: member, since } = w.row as Record<string, never>;
    if (w.op === 'remove') table.delete(key(group, member));
    else if (!table.has(key(group, member))) table.set(key(group, member), { group, member, since });
  }
}

function randomWrites(next: () => number, n: number): MembershipWrite[] {
  const pick = (k: number) => Math.floor(next() * k);
  return Array.from({ length: n }, (_, i): MembershipWrite => {
    const [groupIdentityId, memberTargetId] = [pick(3), `u-${pick(4)}`];
    const r = next();
    if (r < 0.45)
      return { table: 'memberships', op: 'add', row: { groupIdentityId, memberTargetId, since: i } };
    if (r < 0.7) return { table: 'memberships', op: 'remove', row: { groupIdentityId, memberTargetId } };
    if (r < 0.85) return { table: 'memberships', op: 'clearGroup', groupId: groupIdentityId };
    return { table: 'memberships', op: 'removeEverywhere', member: memberTargetId };
  });
}

describe('netMemberships', () => {
  it('leaves what the writes one by one leave, from any starting rows', () => {
    for (let seed = 1; seed <= 500; seed++) {
      const next = random(seed);
      const start: Table = new Map();
      for (let i = Math.floor(next() * 6); i > 0; i--) {
        const [group, member] = [Math.floor(next() * 3), `u-${Math.floor(next() * 4)}`];
        start.set(key(group, member), { group, member, since: -i });
      }
      const writes = randomWrites(next, 1 + Math.floor(next() * 25));
      const oneByOne: Table = new Map(start);
      for (const w of writes) applyOne(oneByOne, w);
      const net: Table = new Map(start);
      const runs = netMemberships(writes);
      for (const run of runs) for (const w of run) applyOne(net, w);
      expect(runs.length).toBeLessThanOrEqual(4);
      expect([...net.entries()].sort(), `seed ${seed}`).toEqual([...oneByOne.entries()].sort());
    }
  });
});
