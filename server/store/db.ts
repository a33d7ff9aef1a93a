import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { type BetterSQLite3Database, drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { packageRoot } from '../paths.js';
import * as schema from './schema/index.js';

export type Db = BetterSQLite3Database<typeof schema> & { $client: Database.Database };

const migrationsFolder = join(packageRoot, 'drizzle');

export interface OpenOptions {
  /**
   * How long a write waits for a lock held by another process. Kept short: better-sqlite3 is synchronous,
   * so a long wait would stall the proxy's event loop. The recorder retries instead.
   */
  busyTimeoutMs?: number;
}

/** Open (creating file and folder), set WAL, apply the committed drizzle migrations. */
export function openDatabase(path: string, { busyTimeoutMs = 10 }: OpenOptions = {}): Db {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const sqlite = new Database(path);
  sqlite.pragma('journal_mode = WAL');
  // NORMAL in WAL mode: a committed transaction survives a process crash (kill -9); only power loss may lose the last ones.
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  // Freed pages go back to the file a little at a time (retention pruning) instead of needing a full VACUUM.
  if (sqlite.pragma('auto_vacuum', { simple: true }) !== 2) {
    sqlite.pragma('auto_vacuum = INCREMENTAL');
    if (isEmpty(sqlite)) sqlite.exec('VACUUM');
  }
  sqlite.pragma(`busy_timeout = ${busyTimeoutMs}`);
  const db = drizzle(sqlite, { schema, casing: 'snake_case' }) as Db;
  migrate(db, { migrationsFolder });
  return db;
}

/** Throws when the database cannot answer a query at all (closed, corrupt, file gone): /api/health asks. */
export function pingDatabase(db: Db): void {
  db.$client.prepare('select 1').get();
}

function isEmpty(sqlite: Database.Database): boolean {
  return !sqlite.prepare("select 1 from sqlite_master where type = 'table' limit 1").get();
}
