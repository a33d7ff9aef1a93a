import type { Db } from '../db.js';

// Queries prepared once and kept: drizzle builds a query in up to ~10 times what SQLite then takes to answer a
// small read (~0.6 ms of ~0.7 ms for latestCycleRow), and GET /api/apps runs GET /api/status's and /api/cycles'
// reads for every app on each refresh of the fleet page.

/** `prepare(db)` run once per database (the pipeline's connection), its result kept while the database is. */
export function oncePerDatabase<T>(prepare: (db: Db) => T): (db: Db) => T {
  const byDatabase = new WeakMap<Db, T>();
  return (db) => {
    let value = byDatabase.get(db);
    if (value === undefined) {
      value = prepare(db);
      byDatabase.set(db, value);
    }
    return value;
  };
}

/** What `map` holds for `key`, made by `make` the first time; for a bounded set of keys (a query's shapes). */
export function getOrMake<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    value = make();
    map.set(key, value);
  }
  return value;
}
