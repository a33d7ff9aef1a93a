import { expect } from 'vitest';
import { loadConfig } from '../../server/config.js';
import { createClientStage } from '../../server/cycles/clients.js';
import { createCycleStage } from '../../server/cycles/index.js';
import { classify } from '../../server/scim/classify.js';
import type { Exchange } from '../../server/scim/types.js';
import { type Db, openDatabase } from '../../server/store/db.js';
import { createDerivation } from '../../server/store/derivation.js';
import { createLogWriter, toRecord } from '../../server/store/ingest.js';
import { createOperationsLog } from '../../server/store/pg/log.js';
import { toLogRow } from '../../server/store/pg/log-write.js';
import type { Pool } from '../../server/store/pg/pool.js';
import { createTermsStage } from '../../server/store/terms.js';

// The differential comparison of PostgreSQL's derivation (server/store/pg/derive/) with SQLite's: the same
// exchanges, derived by both, must leave the same rollups, terms, labels and accepted tokens, row for row.

export const config = loadConfig({ SCIMTAP_DB: ':memory:' });
export const clock = () => Date.UTC(2025, 0, 15, 9, 0, 0);
export const classifyRedacted = (e: Exchange) => classify(e, { capture: 'redacted', redact: ['password'] });

export type Rows = Record<string, unknown>[];
export interface Dump {
  cycles: Rows;
  identities: Rows;
  memberships: Rows;
  terms: Rows;
  labels: Rows;
  accepted: unknown;
}

/** Numbers as text (PostgreSQL's bigint arrives as a string), booleans as SQLite's 0/1. */
export function normalize(rows: Rows, sort: boolean): Rows {
  const value = (v: unknown) =>
    typeof v === 'boolean' ? (v ? '1' : '0') : typeof v === 'number' || typeof v === 'bigint' ? String(v) : v;
  const out = rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, value(v)])));
  if (!sort) return out;
  // One order for both stores, whatever PostgreSQL's collation makes of text keys.
  return out.sort((a, b) => {
    const [x, y] = [JSON.stringify(Object.values(a)), JSON.stringify(Object.values(b))];
    return x < y ? -1 : x > y ? 1 : 0;
  });
}

const queries = {
  cycles: 'select * from cycles order by id',
  identities: 'select * from identities order by id',
  memberships: 'select group_identity_id, member_target_id, since from memberships',
  terms: 'select field, value from operation_terms',
  labels: 'select id, cycle_id, identity_id, client_kind, identity from operations order by id',
};
const nameOf = (text: string) => Object.entries(queries).find(([, q]) => q === text)?.[0] ?? '';
/** the tables without an integer key, sorted after reading */
const textKeyed = new Set(['memberships', 'terms']);
const acceptedSql = "select value from meta where key = 'clients.acceptedTokens'";

export function sqliteDump(db: Db): Dump {
  const all = (text: string) =>
    normalize(db.$client.prepare(text).all() as Rows, textKeyed.has(nameOf(text)));
  const accepted = db.$client.prepare(acceptedSql).pluck().get() ?? null;
  return {
    cycles: all(queries.cycles),
    identities: all(queries.identities),
    memberships: all(queries.memberships),
    terms: all(queries.terms),
    labels: all(queries.labels),
    accepted,
  };
}

export async function pgDump(pool: Pool): Promise<Dump> {
  const all = async (text: string) => normalize((await pool.query(text)).rows, textKeyed.has(nameOf(text)));
  const accepted = (await pool.query(acceptedSql)).rows[0]?.value ?? null;
  return {
    cycles: await all(queries.cycles),
    identities: await all(queries.identities),
    memberships: await all(queries.memberships),
    terms: await all(queries.terms),
    labels: await all(queries.labels),
    accepted,
  };
}

/** SQLite as scimtap runs it: the log writer deriving through, then whatever is left. */
export function deriveOnSqlite(batches: Exchange[][]): Dump {
  const db = openDatabase(':memory:');
  const stages = [createClientStage({ db }), createCycleStage({ db, config, clock }), createTermsStage(db)];
  const derivation = createDerivation({ db, stages });
  const write = createLogWriter({ db, classify: classifyRedacted, derivation });
  for (const batch of batches) {
    write(batch);
    derivation.drain();
  }
  const dump = sqliteDump(db);
  db.$client.close();
  return dump;
}

export const append = (pool: Pool, batch: Exchange[]) =>
  createOperationsLog(pool).insertOperations(batch.map((e) => toLogRow(toRecord(classifyRedacted, e))));

/**
 * What happened to PostgreSQL's derivation besides deriving, at a position of the log (the id derived up to): its
 * stages started afresh (a new leader, a refused or failed batch), or the cycles stage's closeStale ran. Both can
 * change what follows (a restart empties the stages' caches; closeStale with a clock behind the operations moves
 * the running cycle's last time), so SQLite must see them at the same places.
 */
export type DerivationEvent =
  | { kind: 'restart'; at: number }
  | { kind: 'closeStale'; at: number; now: number };

/**
 * SQLite following PostgreSQL's events: the log written alone, then derived one operation at a time, each event
 * applied once the cursor reaches its position.
 */
export function deriveOnSqliteFollowing(batches: Exchange[][], events: DerivationEvent[]): Dump {
  const db = openDatabase(':memory:');
  const write = createLogWriter({ db, classify: classifyRedacted });
  for (const batch of batches) write(batch);
  const start = () => {
    const cycles = createCycleStage({ db, config, clock });
    const stages = [createClientStage({ db }), cycles, createTermsStage(db)];
    return { cycles, derivation: createDerivation({ db, stages, batchSize: 1 }) };
  };
  let current = start();
  const queue = [...events];
  const apply = (at: number) => {
    for (let e = queue[0]; e && e.at === at; e = queue[0]) {
      queue.shift();
      if (e.kind === 'restart') current = start();
      else current.cycles.closeStale(e.now);
    }
  };
  apply(0);
  while (current.derivation.step() > 0) apply(current.derivation.lag(0).cursor);
  expect(queue).toEqual([]);
  const dump = sqliteDump(db);
  db.$client.close();
  return dump;
}

/** PostgreSQL's derived tables equal `expected`, and `expected` is not vacuous. */
export async function expectSameDump(pool: Pool, expected: Dump): Promise<void> {
  expect(expected.cycles.length).toBeGreaterThan(0);
  expect(expected.identities.length).toBeGreaterThan(1);
  const actual = await pgDump(pool);
  expect(actual.labels).toEqual(expected.labels);
  expect(actual.cycles).toEqual(expected.cycles);
  expect(actual.identities).toEqual(expected.identities);
  expect(actual.memberships).toEqual(expected.memberships);
  expect(actual.terms).toEqual(expected.terms);
  expect(actual.accepted).toEqual(expected.accepted);
}
