import type { Write } from './workspace.js';

// A batch's membership writes, in the order the cycles stage made them (cycles/identities.ts `applyMemberships`),
// reduced to their net effect: at most four statements instead of one per member change. The workspace never
// reads memberships, so the rows already there are unknown; the net effect below holds whatever they are.
//
// For a (group, member) pair, what decides its end state is the last "delete" that reaches it (its remove, its
// group cleared, its member removed everywhere) and the adds after that delete: the first of them inserts the
// row with its `since`, the later ones are ignored (INSERT OR IGNORE). With no delete at all, the first add is an
// INSERT OR IGNORE against whatever row was there. So: run every delete first (each removes exactly the pairs a
// delete reached at some point), then insert, ignoring conflicts, each pair's first add after its last delete.

type MembershipWrite = Extract<Write, { table: 'memberships' }>;
const pairKey = (group: unknown, member: unknown) => `${group}\n${member}`;

export function netMemberships(writes: MembershipWrite[]): Write[][] {
  const removedAt = new Map<string, number>();
  const clearedAt = new Map<number, number>();
  const everywhereAt = new Map<string, number>();
  const adds = new Map<
    string,
    { group: number; member: string; at: number; row: Record<string, unknown> }[]
  >();
  const removes: Write[] = [];
  writes.forEach((w, at) => {
    if (w.op === 'clearGroup') clearedAt.set(w.groupId, at);
    else if (w.op === 'removeEverywhere') everywhereAt.set(w.member, at);
    else {
      const k = pairKey(w.row.groupIdentityId, w.row.memberTargetId);
      if (w.op === 'remove') {
        if (!removedAt.has(k)) removes.push(w);
        removedAt.set(k, at);
      } else {
        const add = {
          group: w.row.groupIdentityId as number,
          member: w.row.memberTargetId as string,
          at,
          row: w.row,
        };
        adds.set(k, [...(adds.get(k) ?? []), add]);
      }
    }
  });
  const inserts: Write[] = [];
  for (const [k, list] of adds) {
    const { group, member } = list[0] as { group: number; member: string };
    const lastDelete = Math.max(
      removedAt.get(k) ?? -1,
      clearedAt.get(group) ?? -1,
      everywhereAt.get(member) ?? -1,
    );
    const first = list.find((a) => a.at > lastDelete);
    if (first) inserts.push({ table: 'memberships', op: 'add', row: first.row });
  }
  const clears: Write[] = [...clearedAt.keys()].map((groupId) => ({
    table: 'memberships',
    op: 'clearGroup',
    groupId,
  }));
  const everywhere: Write[] = [...everywhereAt.keys()].map((member) => ({
    table: 'memberships',
    op: 'removeEverywhere',
    member,
  }));
  return [removes, clears, everywhere, inserts].filter((run) => run.length > 0);
}
