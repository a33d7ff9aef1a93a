import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { dirname, resolve, sep } from 'node:path';
import Database from 'better-sqlite3';
import { type Db, openDatabase } from './db.js';

/**
 * Opens SCIMTAP_DB, or throws an error that names the setting, the path and what to fix. SQLite's own words
 * ("unable to open database file", "attempt to write a readonly database") name neither, and some paths are
 * worse than an error: on /proc, SQLite spins on locks it can never take.
 */
export function openConfiguredDatabase(path: string): Db {
  const problem = databasePathProblem(path);
  if (problem) throw new Error(`SCIMTAP_DB (${path}): ${problem}`);
  try {
    return openDatabase(path);
  } catch (err) {
    throw new Error(`SCIMTAP_DB (${path}): cannot open the database: ${(err as Error).message}`);
  }
}

const virtualRoots = ['/proc', '/sys', '/dev'];

/** What stands in the way of a SQLite database (and its -wal and -shm files) at `path`, or null. */
export function databasePathProblem(path: string): string | null {
  if (path === ':memory:') return null;
  const full = resolve(path);
  const root = virtualRoots.find((r) => full === r || full.startsWith(`${r}${sep}`));
  if (root)
    return `${root} is not a real file system; SQLite cannot keep a database there. Choose a path on a disk.`;
  if (existsSync(full)) {
    const stat = statSync(full);
    if (stat.isDirectory()) return 'is a folder; name a file inside it, e.g. ./data/scimtap.db';
    if (!stat.isFile()) return 'is not a regular file';
    if (!canAccess(full, constants.R_OK | constants.W_OK)) {
      return `the file is not readable and writable by this user (uid ${process.getuid?.() ?? '?'}): fix its owner or mode`;
    }
  }
  // The folder must exist (or be creatable) and be writable: SQLite creates the -wal and -shm files beside it.
  let ancestor = dirname(full);
  while (!existsSync(ancestor)) ancestor = dirname(ancestor);
  if (!statSync(ancestor).isDirectory()) {
    return `${ancestor} is a file, so the folder for the database cannot be created there`;
  }
  if (!canAccess(ancestor, constants.W_OK | constants.X_OK)) {
    return `the folder ${ancestor} is not writable by this user (uid ${process.getuid?.() ?? '?'}); SQLite needs to create the database and its -wal and -shm files there`;
  }
  return null;
}

function canAccess(path: string, mode: number): boolean {
  try {
    accessSync(path, mode);
    return true;
  } catch {
    return false;
  }
}

/**
 * What an existing database file is, read without writing to it: its `application_id` (the demo marks its own
 * files) and whether it holds recorded operations. Throws when the file cannot be read as a database.
 */
export function probeDatabase(path: string): { applicationId: number; recorded: boolean } {
  const probe = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const applicationId = Number(probe.pragma('application_id', { simple: true }));
    const hasTable =
      probe
        .prepare("select count(*) from sqlite_master where type = 'table' and name = 'operations'")
        .pluck()
        .get() === 1;
    const recorded =
      hasTable && probe.prepare('select exists (select 1 from operations)').pluck().get() === 1;
    return { applicationId, recorded };
  } finally {
    probe.close();
  }
}

/** Marks the file with an `application_id` that `probeDatabase` reads back (the demo marks its own). */
export function markDatabase(db: Db, applicationId: number): void {
  db.$client.pragma(`application_id = ${Math.trunc(applicationId)}`);
}
