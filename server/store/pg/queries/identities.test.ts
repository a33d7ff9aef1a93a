import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BothStores, recordedOnBothStores } from '../../../../test/helpers/both-stores.js';
import { type PostgresServer, startPostgres } from '../../../../test/helpers/postgres.js';
import { addIdentities, addMemberships } from '../../../../test/helpers/same-rows.js';
import { identityTypes, operationStatuses } from '../../../vocabulary.js';
import * as sqlite from '../../queries/identities.js';
import { type IdentityFilter, identityFilterSchema } from '../../queries/identities.js';
import { identities } from '../../schema/index.js';
import * as twin from './identities.js';

let server: PostgresServer;
let both: BothStores;
const t0 = Date.UTC(2025, 0, 16, 9);

type NewIdentity = typeof identities.$inferInsert;
const identity = (id: number, over: Partial<NewIdentity>): NewIdentity => ({
  id,
  type: 'User',
  key: `extra-${id}`,
  firstSeen: t0,
  lastSeen: t0 + id,
  ...over,
});

beforeAll(async () => {
  server = await startPostgres();
  both = await recordedOnBothStores(server);
  // The test server's database collation is C, where pg compares as SQLite does anyway. Give the searched and
  // ordered columns a language's collation (ICU's root), as a production database may have, so the twin is
  // shown to order by bytes and fold ASCII letters only whatever the collation.
  await both.pool.query(`
    alter table identities alter column name type text collate "und-x-icu",
      alter column external_id type text collate "und-x-icu", alter column target_id type text collate "und-x-icu";
    alter table memberships alter column member_target_id type text collate "und-x-icu"`);
  // What the recorded traffic lacks: deleted and warning identities, non-ASCII and LIKE-special text, a target
  // id on two rows (deleted and re-created), a group without a name, two groups of one name, and members whose
  // ids sort differently by bytes than by a language's collation.
  await addIdentities(both, [
    identity(1001, { name: 'Émilie Dupont', externalId: 'emi_1', targetId: 'u-5', deleted: true }),
    identity(1002, {
      name: 'René 100% sure',
      externalId: 'x\\y',
      targetId: 'u-100',
      lastStatus: 'warning',
      failingStreak: 3,
      failingSince: t0,
      active: true,
    }),
    identity(1003, {
      type: 'Group',
      key: 'g-null',
      targetId: 'g-null',
      lastStatus: 'failure',
      failingStreak: 2,
    }),
    identity(1004, { type: 'Group', name: 'alpha team', targetId: 'g-alpha', lastStatus: 'success' }),
    identity(1005, {
      type: 'Group',
      name: 'Group 0',
      targetId: 'g-0b',
      lastStatus: 'success',
      active: false,
    }),
    identity(1006, { name: 'ÉMILIE', targetId: 'u-emi2', lastStatus: 'warning', deleted: true }),
  ]);
  const member = (groupIdentityId: number, memberTargetId: string, since = t0) => ({
    groupIdentityId,
    memberTargetId,
    since,
  });
  await addMemberships(both, [
    member(1003, 'u-1'),
    ...['u-1', 'Zed', 'alpha', 'é-x', 'B_1', 'u-5', 'u-100'].map((m, i) => member(1004, m, t0 + i)),
    member(1005, 'u-1'),
    member(1005, 'u-emi2'),
  ]);
}, 60_000);

afterAll(async () => {
  await both?.close();
  await server?.stop();
});

/** Walks every page of listIdentities on both stores, following the cursors; returns the ids seen. */
async function walkIdentities(filter: IdentityFilter, limit: number): Promise<number[]> {
  const ids: number[] = [];
  let cursor: string | undefined;
  for (let pages = 0; pages < 200; pages++) {
    const expected = sqlite.listIdentities(both.sqlite, filter, { limit, cursor });
    const actual = await twin.listIdentities(both.pg, filter, { limit, cursor });
    expect(actual).toStrictEqual(expected);
    ids.push(...actual.items.map((i) => i.id));
    if (actual.nextCursor === null) return ids;
    cursor = actual.nextCursor;
  }
  throw new Error('listIdentities never ended');
}

const searches = [
  'user1',
  'USER1',
  'contoso',
  'ada',
  'u-1',
  'G-',
  'mili',
  'É',
  'é',
  'ÉMILIE',
  '100%',
  '%',
  '_',
  'emi_',
  'x\\y',
  '\\',
  'nobody-has-this',
];

describe('listIdentities', () => {
  const raw: Record<string, string>[] = [
    {},
    ...identityTypes.map((type) => ({ type })),
    ...operationStatuses.map((status) => ({ status })),
    ...['true', 'false', '1', '0'].flatMap((v): Record<string, string>[] => [{ failing: v }, { deleted: v }]),
    ...searches.map((q) => ({ q })),
    { q: '  user2  ' },
    { type: 'User', status: 'failure', failing: 'true', deleted: 'false', q: 'user' },
    { type: 'Group', status: 'success', failing: 'false', q: 'group' },
    { type: 'User', deleted: 'true', q: 'mili' },
    { status: 'warning', failing: 'true' },
  ];
  const filters = raw.map((r) => identityFilterSchema.parse(r));

  it.each(filters.map((f) => [JSON.stringify(f), f] as const))('%s, every page', async (_, f) => {
    for (const limit of [1, 7, 1000]) await walkIdentities(f, limit);
  });

  it('the cases meant to match do', async () => {
    const count = async (f: Record<string, string>) =>
      (await walkIdentities(identityFilterSchema.parse(f), 1000)).length;
    for (const type of identityTypes) expect(await count({ type })).toBeGreaterThan(0);
    for (const status of operationStatuses) expect(await count({ status })).toBeGreaterThan(0);
    for (const v of ['true', 'false']) {
      expect(await count({ failing: v })).toBeGreaterThan(0);
      expect(await count({ deleted: v })).toBeGreaterThan(0);
    }
    for (const q of ['user1', 'USER1', 'ada', 'u-1', 'mili', 'É', 'é', '100%', '%', '_', 'x\\y']) {
      expect(await count({ q })).toBeGreaterThan(0);
    }
    // SQLite folds ASCII letters only: 'é' finds René, not Émilie.
    expect(await walkIdentities({ q: 'é' }, 100)).toEqual([1002]);
    expect(await walkIdentities({ q: 'mili' }, 100)).toEqual([1006, 1001]);
    expect(
      await count({ type: 'User', status: 'failure', failing: 'true', deleted: 'false', q: 'user' }),
    ).toBe(2);
    expect(await walkIdentities({}, 1)).toHaveLength(56);
  });

  it('reads a cursor as SQLite does: past the oldest, and an unreadable one', async () => {
    for (const cursor of ['djE6MQ', 'djE6OTk5OQ', 'not-a-cursor']) {
      const page = { limit: 3, cursor };
      expect(await twin.listIdentities(both.pg, {}, page)).toStrictEqual(
        sqlite.listIdentities(both.sqlite, {}, page),
      );
    }
  });
});

describe('one identity', () => {
  const allIds = () => both.sqlite.select({ id: identities.id }).from(identities).all();

  it('getIdentityRow: hit and miss', async () => {
    for (const id of [1, 2, 8, 1001, 1002, 1003, 0, 9999]) {
      expect(await twin.getIdentityRow(both.pg, id)).toStrictEqual(sqlite.getIdentityRow(both.sqlite, id));
    }
    expect(await twin.getIdentityRow(both.pg, 1002)).toMatchObject({ active: true, deleted: false });
    expect(await twin.getIdentityRow(both.pg, 9999)).toBeUndefined();
  });

  it('identityMemberships of every user and group, whole and cut short', async () => {
    let members = 0;
    let groups = 0;
    for (const { id } of allIds()) {
      const row = sqlite.getIdentityRow(both.sqlite, id)!;
      for (const limit of [undefined, 1, 2, 3]) {
        const expected = sqlite.identityMemberships(both.sqlite, row, limit);
        expect(await twin.identityMemberships(both.pg, row, limit)).toStrictEqual(expected);
        if (expected.role === 'members') members += expected.items.length;
        else groups += expected.items.length;
      }
    }
    expect(members).toBeGreaterThan(0);
    expect(groups).toBeGreaterThan(0);
  });

  it('orders members by bytes, dedupes a re-created member, puts an unnamed group first', async () => {
    const group = sqlite.getIdentityRow(both.sqlite, 1004)!;
    const m = await twin.identityMemberships(both.pg, group);
    expect(m.items.map((i) => i.targetId)).toEqual(['B_1', 'Zed', 'alpha', 'u-1', 'u-100', 'u-5', 'é-x']);
    expect(m.items.find((i) => i.targetId === 'u-5')?.identityId).toBe(6);
    expect(m.total).toBe(7);
    const user = sqlite.getIdentityRow(both.sqlite, 2)!;
    const g = await twin.identityMemberships(both.pg, user);
    expect(g.items.map((i) => i.name)).toEqual([
      null,
      'Group 0',
      'Group 0',
      'Group 2',
      'Group 6',
      'Group 8',
      'alpha team',
    ]);
    expect(g.items.map((i) => i.identityId).slice(1, 3)).toEqual([1, 1005]);
  });

  it('identityTimeline of every identity, walked to the end', async () => {
    let seen = 0;
    for (const { id } of [...allIds(), { id: 9999 }]) {
      for (const limit of [1, 4, 1000]) {
        let cursor: string | undefined;
        for (let pages = 0; ; pages++) {
          expect(pages).toBeLessThan(100);
          const expected = sqlite.identityTimeline(both.sqlite, id, { limit, cursor });
          const actual = await twin.identityTimeline(both.pg, id, { limit, cursor });
          expect(actual).toStrictEqual(expected);
          seen += actual.items.length;
          if (actual.nextCursor === null) break;
          cursor = actual.nextCursor;
        }
      }
    }
    expect(seen).toBeGreaterThan(100);
    const last = await twin.identityTimeline(both.pg, 2, { limit: 1 });
    expect(last.items).toHaveLength(1);
    expect(last.nextCursor).not.toBeNull();
  });
});
