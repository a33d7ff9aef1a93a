import { type SQL, sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import { identities } from '../../schema-pg/index.js';
import type { Pool } from '../pool.js';
import type { Shared } from './workspace.js';

// The identities of the workspace (workspace.ts): rows fetched by the lookups the cycles stage makes
// (cycles/identities.ts `resolve`), indexed as SQLite's indexes answer them, and kept up to date by every write
// the stage makes through the workspace.

export type IdentityRow = typeof identities.$inferSelect;

/** rows kept between batches before the workspace starts afresh (the cycles stage's caches hold as many) */
const keepLimit = 50_000;

/** SQLite's `collate nocase`: ASCII letters only. */
export const foldCase = (s: string) => s.replace(/[A-Z]/g, (c) => c.toLowerCase());
const pair = (type: string, value: string) => `${type}\n${value}`;

/** (type, value) pairs the stage may look up, per lookup */
export interface Lookups {
  targets: string[][];
  names: string[][];
  keys: string[][];
}

const notPrefetched = (what: string) => new Error(`derivation workspace: ${what} was not prefetched`);

/** SQLite's three lookups over the rows held: by (type, target id), (type, folded name), (type, key). */
function createIndexes(rows: Map<number, IdentityRow>) {
  const byTarget = new Map<string, Set<number>>();
  const byName = new Map<string, Set<number>>();
  const byKey = new Map<string, number>();
  return {
    byTarget,
    byName,
    byKey,
    index(row: IdentityRow, add: boolean): void {
      const entries: [Map<string, Set<number>>, string | null][] = [
        [byTarget, row.targetId],
        [byName, row.name === null ? null : foldCase(row.name)],
      ];
      for (const [map, value] of entries) {
        if (value === null) continue;
        const k = pair(row.type, value);
        const set = map.get(k) ?? new Set<number>();
        if (add) set.add(row.id);
        else set.delete(row.id);
        map.set(k, set);
      }
      if (add) byKey.set(pair(row.type, row.key), row.id);
      else if (byKey.get(pair(row.type, row.key)) === row.id) byKey.delete(pair(row.type, row.key));
    },
    /** the row with the highest id among `ids` (SQLite's `order by id desc limit 1`) */
    latest(ids: Set<number> | undefined): IdentityRow | undefined {
      let best: number | undefined;
      for (const id of ids ?? []) if (best === undefined || id > best) best = id;
      return best === undefined ? undefined : rows.get(best);
    },
    clear(): void {
      byTarget.clear();
      byName.clear();
      byKey.clear();
    },
  };
}

export function createIdentityTable(pool: Pool, shared: Shared) {
  const rows = new Map<number, IdentityRow>();
  const { byTarget, byName, byKey, index, latest, ...indexes } = createIndexes(rows);
  // Lookups answered completely: every row in the database that matches is in `rows`. They stay complete
  // across batches, since every later change to these rows goes through here.
  const complete = { targets: new Set<string>(), names: new Set<string>(), keys: new Set<string>() };
  let count = 0;

  function lookup(set: Set<string>, k: string, what: string): string {
    if (!set.has(k)) throw notPrefetched(`${what} ${JSON.stringify(k)}`);
    return k;
  }

  function get(id: number): IdentityRow {
    const row = rows.get(id);
    if (!row) throw notPrefetched(`identity ${id}`);
    return row;
  }

  function forget(): void {
    rows.clear();
    indexes.clear();
    for (const set of Object.values(complete)) set.clear();
  }

  /** Fetches every identity the batch's lookups can return that is not known completely yet. */
  async function prefetch(wanted: Lookups): Promise<void> {
    if (rows.size > keepLimit) forget();
    const missing = (list: string[][], done: Set<string>, fold = false) => {
      const seen = new Set<string>();
      return list.filter(([t, v]) => {
        const k = pair(t as string, fold ? foldCase(v as string) : (v as string));
        if (done.has(k) || seen.has(k)) return false;
        seen.add(k);
        return true;
      });
    };
    const targets = missing(wanted.targets, complete.targets);
    const names = missing(wanted.names, complete.names, true);
    const keys = missing(wanted.keys, complete.keys);
    if (targets.length + names.length + keys.length === 0) return;
    for (const row of await fetchIdentities(pool, targets, names, keys)) {
      // A row already here is the newer truth: it may carry this process's writes of an earlier batch.
      if (rows.has(row.id)) continue;
      rows.set(row.id, row);
      index(row, true);
    }
    for (const [t, v] of targets) complete.targets.add(pair(t as string, v as string));
    for (const [t, v] of names) complete.names.add(pair(t as string, foldCase(v as string)));
    for (const [t, v] of keys) complete.keys.add(pair(t as string, v as string));
  }

  return {
    forget,
    prefetch,
    setCount(n: number): void {
      count = n;
    },
    count: () => count,
    byTarget: (type: string, targetId: string) =>
      latest(byTarget.get(lookup(complete.targets, pair(type, targetId), 'target'))),
    byName: (type: string, name: string) =>
      latest(byName.get(lookup(complete.names, pair(type, foldCase(name)), 'name'))),
    byKey(type: string, key: string): IdentityRow | undefined {
      const id = byKey.get(lookup(complete.keys, pair(type, key), 'key'));
      return id === undefined ? undefined : rows.get(id);
    },
    get,
    /** a new row: gets the next id, as AUTOINCREMENT would */
    insert(row: Omit<IdentityRow, 'id'>): IdentityRow {
      const full = { ...row, id: shared.next.identities++ };
      rows.set(full.id, full);
      index(full, true);
      count++;
      shared.writes.push({ table: 'identities', op: 'insert', row: { ...full } });
      return full;
    },
    /** SQLite's AUTOINCREMENT spends an id on an INSERT OR IGNORE that was ignored too */
    spendId(): void {
      shared.next.identities++;
    },
    update(id: number, change: Partial<Omit<IdentityRow, 'id' | 'type'>>): void {
      const row = get(id);
      index(row, false);
      Object.assign(row, change);
      index(row, true);
      shared.writes.push({ table: 'identities', op: 'update', row: { ...change, id } });
    },
  };
}

/**
 * Identities matching any of the lookups: by (type, target id), by (type, name) as SQLite's `collate nocase`
 * compares (lower() finds the candidates through the index on lower(name), the ASCII fold keeps the true ones),
 * and by (type, key).
 */
async function fetchIdentities(
  pool: Pool,
  targets: string[][],
  names: string[][],
  keys: string[][],
): Promise<IdentityRow[]> {
  const db = drizzle(pool);
  // One array parameter each (drizzle would spread a bare array into a list of parameters).
  const col = (list: string[][], i: number) => sql.param(list.map((p) => p[i] as string));
  // Three indexed lookups rather than one OR, which PostgreSQL would answer with a scan of the table.
  const lookup = (list: string[][], match: SQL) =>
    list.length === 0 ? Promise.resolve([]) : db.select().from(identities).where(match);
  const found = (
    await Promise.all([
      lookup(
        targets,
        sql`(${identities.type}, ${identities.targetId}) in
          (select * from unnest(${col(targets, 0)}::text[], ${col(targets, 1)}::text[]))`,
      ),
      lookup(
        names,
        sql`(${identities.type}, lower(${identities.name})) in
          (select t, lower(n) from unnest(${col(names, 0)}::text[], ${col(names, 1)}::text[]) as p(t, n))`,
      ),
      lookup(
        keys,
        sql`(${identities.type}, ${identities.key}) in
          (select * from unnest(${col(keys, 0)}::text[], ${col(keys, 1)}::text[]))`,
      ),
    ])
  ).flat();
  const wantedNames = new Set(names.map(([t, n]) => pair(t as string, foldCase(n as string))));
  const wantedTargets = new Set(targets.map(([t, v]) => pair(t as string, v as string)));
  const wantedKeys = new Set(keys.map(([t, v]) => pair(t as string, v as string)));
  return found.filter(
    (r) =>
      (r.targetId !== null && wantedTargets.has(pair(r.type, r.targetId))) ||
      (r.name !== null && wantedNames.has(pair(r.type, foldCase(r.name)))) ||
      wantedKeys.has(pair(r.type, r.key)),
  );
}
