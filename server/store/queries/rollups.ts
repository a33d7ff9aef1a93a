import { getTableColumns } from 'drizzle-orm';
import type { SQLiteColumn } from 'drizzle-orm/sqlite-core';
import type { Db } from '../db.js';
import { cycles, identities } from '../schema/index.js';
import type { CycleRow } from './cycles.js';

// The writes of the cycles stage (cycles/), which runs once per recorded batch: prepared once, positional
// where it pays. Column lists come from the Drizzle schema, so a cycle's or identity's columns are spelled
// once, in store/schema/.

/** `column as key, ...` for the given keys of a table, so rows come back under the schema's camelCase keys. */
function selectList<T extends Record<string, SQLiteColumn>>(columns: T, keys: (keyof T & string)[]): string {
  return keys.map((k) => `${columns[k].name} as ${k}`).join(', ');
}

/** `column = @key, ...`: an UPDATE's SET clause with named parameters. */
function setList<T extends Record<string, SQLiteColumn>>(columns: T, keys: (keyof T & string)[]): string {
  return keys.map((k) => `${columns[k].name} = @${k}`).join(', ');
}

const cycleColumns = getTableColumns(cycles);
const cycleKeys = Object.keys(cycleColumns) as (keyof CycleRow & string)[];
const identityColumns = getTableColumns(identities);

/** The outcome columns of an identity, which the identity fold owns (cycles/identity.ts), plus how it is found. */
export const identityOutcomeKeys = [
  'id',
  'type',
  'targetId',
  'lastOperation',
  'lastOperationId',
  'lastStatus',
  'lastHttpStatus',
  'lastErrorOperationId',
  'lastErrorHttpStatus',
  'lastErrorCode',
  'lastReason',
  'lastErrorAt',
  'failingStreak',
  'failingSince',
  'streakBase',
  'lastCycleId',
  'lastFailedCycleId',
  'lastSeen',
  'active',
  'deleted',
] as const satisfies (keyof typeof identityColumns)[];

type IdentityOutcomeKey = (typeof identityOutcomeKeys)[number];
/** An identity's outcome columns as SQLite returns them (booleans as 0/1). */
export type IdentityOutcomeRow = Omit<
  Pick<typeof identities.$inferSelect, IdentityOutcomeKey>,
  'active' | 'deleted'
> & {
  active: number | null;
  deleted: number;
};

/** How an identity is found and named. */
export interface IdentityKeys {
  id: number;
  name: string | null;
  targetId: string | null;
  externalId: string | null;
}

export interface NewCycle {
  startedAt: number;
  kind: string;
  probeStatus: number | null;
  probeOutcome: string | null;
  probeErrorCode: string | null;
  knownIdentities: number;
}

/** The cycles stage's statements, by table: cycles, identities, memberships, as one object. */
export function createRollupQueries(db: Db) {
  const sqlite = db.$client;
  return { ...cycleQueries(sqlite), ...identityQueries(sqlite), ...membershipQueries(sqlite) };
}

type Sqlite = Db['$client'];

function cycleQueries(sqlite: Sqlite) {
  const s = {
    insertCycle:
      sqlite.prepare(`insert into cycles (started_at, ended_at, state, kind, probe_status, probe_outcome,
      probe_error_code, known_identities) values (?, ?, 'running', ?, ?, ?, ?, ?)`),
    updateCycle: sqlite.prepare(
      `update cycles set ${setList(
        cycleColumns,
        cycleKeys.filter((k) => k !== 'id'),
      )} where id = @id`,
    ),
    runningCycles: sqlite.prepare(
      `select ${selectList(cycleColumns, cycleKeys)} from cycles where state = 'running' order by id`,
    ),
    lastCadence: sqlite
      .prepare(
        `select started_at from cycles where state = 'completed' and kind != 'onDemand' order by id desc limit 1`,
      )
      .pluck(),
    lastScheduled: sqlite
      .prepare(
        `select id from cycles where state = 'completed' and kind in ('initial', 'incremental') order by id desc limit 1`,
      )
      .pluck(),
    lastInitial: sqlite
      .prepare(
        `select processed_objects from cycles where state = 'completed' and kind = 'initial' order by id desc limit 1`,
      )
      .pluck(),
  };
  return {
    insertCycle: (c: NewCycle): number =>
      Number(
        s.insertCycle.run(
          c.startedAt,
          c.startedAt,
          c.kind,
          c.probeStatus,
          c.probeOutcome,
          c.probeErrorCode,
          c.knownIdentities,
        ).lastInsertRowid,
      ),
    updateCycle: (row: CycleRow): void => {
      s.updateCycle.run(row);
    },
    runningCycles: () => s.runningCycles.all() as CycleRow[],
    /** start of the last completed cycle that was not on demand */
    lastCadenceStart: () => (s.lastCadence.get() as number | undefined) ?? null,
    seenScheduled: () => s.lastScheduled.get() !== undefined,
    lastInitialProcessed: () => (s.lastInitial.get() as number | undefined) ?? null,
  };
}

function identityQueries(sqlite: Sqlite) {
  const keysSelect = 'id, name, target_id as targetId, external_id as externalId';
  const outcomeKeys = identityOutcomeKeys.filter((k) => k !== 'id' && k !== 'type' && k !== 'targetId');
  const s = {
    countIdentities: sqlite.prepare('select count(*) from identities').pluck(),
    findByTarget: sqlite.prepare(
      `select ${keysSelect} from identities where type = ? and target_id = ? order by id desc limit 1`,
    ),
    findByName: sqlite.prepare(
      `select ${keysSelect} from identities where type = ? and name = ? collate nocase order by id desc limit 1`,
    ),
    findByKey: sqlite.prepare('select id from identities where type = ? and key = ?').pluck(),
    insertIdentity: sqlite.prepare(`insert or ignore into identities (type, key, name, external_id, target_id,
      first_seen, last_seen) values (?, ?, ?, ?, ?, ?, ?)`),
    linkTarget: sqlite.prepare('update identities set target_id = ? where id = ?'),
    // A key already taken (a name equal to another object's id) keeps the old key rather than failing the batch.
    rekey: sqlite.prepare('update or ignore identities set key = ? where id = ?'),
    rename: sqlite.prepare('update identities set name = ? where id = ?'),
    setExternalId: sqlite.prepare('update identities set external_id = ? where id = ?'),
    loadIdentity: sqlite.prepare(
      `select ${selectList(identityColumns, [...identityOutcomeKeys])} from identities where id = ?`,
    ),
    updateIdentity: sqlite.prepare(
      `update identities set ${setList(identityColumns, outcomeKeys)} where id = @id`,
    ),
  };
  return {
    countIdentities: () => s.countIdentities.get() as number,
    findByTarget: (type: string, targetId: string) =>
      s.findByTarget.get(type, targetId) as IdentityKeys | undefined,
    findByName: (type: string, name: string) => s.findByName.get(type, name) as IdentityKeys | undefined,
    /** inserts a new identity and returns its id (the existing one's when the key is taken) */
    insertIdentity(
      row: {
        type: string;
        key: string;
        name: string | null;
        externalId: string | null;
        targetId: string | null;
      },
      time: number,
    ): { id: number; inserted: boolean } {
      const { type, key, name, externalId, targetId } = row;
      const { changes, lastInsertRowid } = s.insertIdentity.run(
        type,
        key,
        name,
        externalId,
        targetId,
        time,
        time,
      );
      if (changes > 0) return { id: Number(lastInsertRowid), inserted: true };
      return { id: s.findByKey.get(type, key) as number, inserted: false };
    },
    /** ties an identity found by name to the target id an answer gave it */
    linkTarget(id: number, targetId: string): void {
      s.linkTarget.run(targetId, id);
      s.rekey.run(targetId, id);
    },
    rename: (id: number, name: string) => void s.rename.run(name, id),
    setExternalId: (id: number, externalId: string) => void s.setExternalId.run(externalId, id),
    loadIdentity: (id: number) => s.loadIdentity.get(id) as IdentityOutcomeRow,
    updateIdentity: (row: IdentityOutcomeRow) => void s.updateIdentity.run(row),
  };
}

function membershipQueries(sqlite: Sqlite) {
  const s = {
    addMember: sqlite.prepare(
      'insert or ignore into memberships (group_identity_id, member_target_id, since) values (?, ?, ?)',
    ),
    removeMember: sqlite.prepare(
      'delete from memberships where group_identity_id = ? and member_target_id = ?',
    ),
    clearGroup: sqlite.prepare('delete from memberships where group_identity_id = ?'),
    removeMemberEverywhere: sqlite.prepare('delete from memberships where member_target_id = ?'),
  };
  return {
    addMember: (groupId: number, member: string, since: number) =>
      void s.addMember.run(groupId, member, since),
    removeMember: (groupId: number, member: string) => void s.removeMember.run(groupId, member),
    clearGroup: (groupId: number) => void s.clearGroup.run(groupId),
    removeMemberEverywhere: (member: string) => void s.removeMemberEverywhere.run(member),
  };
}

export type RollupQueries = ReturnType<typeof createRollupQueries>;

/** For `scimtap rebuild`: forget every rollup, ids restarting at 1 so a rebuild of the same operations gives the same ids. */
export function clearRollups(db: Db): void {
  db.$client.transaction(() => {
    db.$client.exec('delete from memberships; delete from identities; delete from cycles');
    db.$client.exec("delete from sqlite_sequence where name in ('cycles', 'identities')");
  })();
}

export function rollupCounts(db: Db): { cycles: number; identities: number; memberships: number } {
  const count = (table: 'cycles' | 'identities' | 'memberships') =>
    db.$client.prepare(`select count(*) from ${table}`).pluck().get() as number;
  return { cycles: count('cycles'), identities: count('identities'), memberships: count('memberships') };
}
