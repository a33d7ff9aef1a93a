import { accessSync, constants, realpathSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { mustBeEmptyTables, quote, type TablePlan } from './copy-plan.js';

// The SQLite side of `scimtap migrate-store`: the file named by --from, opened read-only and checked to be a
// scimtap database of this version's schema before anything is written to the target.

export interface Source {
  db: Database.Database;
  /** what the target remembers of the copy, so that a resume from another file is refused */
  fingerprint: string;
}

/** A reason not to start, for exit status 2: the message names the flag to fix. */
export class Refusal extends Error {}

export function openSource(path: string, plan: TablePlan[]): Source {
  const where = `--from (${path})`;
  let stat: ReturnType<typeof statSync>;
  try {
    stat = statSync(path);
  } catch {
    throw new Refusal(`${where}: no such file; name the SQLite database scimtap recorded into (SCIMTAP_DB)`);
  }
  if (stat.isDirectory()) throw new Refusal(`${where}: is a folder; name the database file inside it`);
  try {
    accessSync(path, constants.R_OK);
  } catch {
    throw new Refusal(`${where}: not readable by this user (uid ${process.getuid?.() ?? '?'})`);
  }
  let db: Database.Database;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
    db.prepare('select count(*) from sqlite_master').get();
  } catch (err) {
    throw new Refusal(`${where}: cannot be read as a SQLite database: ${(err as Error).message}`);
  }
  try {
    checkSchema(db, plan, where);
    checkDerived(db, where);
    const first = db.prepare('select id, time from operations order by id limit 1').raw().get() ?? null;
    return { db, fingerprint: JSON.stringify({ file: realpathSync(path), firstOperation: first }) };
  } catch (err) {
    db.close();
    throw err;
  }
}

/**
 * Rows recorded in a burst and not derived yet are not copied: scimtap derives them when it runs. Checked when the
 * file is opened, and again as the first read of the copy's snapshot (a scimtap still running on the file could
 * log a burst in between: its rows would be left out without a word).
 */
export function checkDerived(db: Database.Database, where: string): void {
  for (const table of mustBeEmptyTables) {
    const n = Number(
      db
        .prepare(`select count(*) from ${quote(table)}`)
        .pluck()
        .get(),
    );
    if (n > 0) {
      throw new Refusal(
        `${where}: ${n} recorded operations are not derived yet (${table}); start scimtap on the file once, ` +
          'let it catch up (/api/health shows derivation 0 behind), stop it, then migrate again',
      );
    }
  }
}

/** The file must hold every table and column this version copies, and no column it would leave behind. */
function checkSchema(db: Database.Database, plan: TablePlan[], where: string): void {
  const tables = new Set(
    db
      .prepare("select name from sqlite_master where type = 'table'")
      .pluck()
      .all()
      .map((n) => String(n)),
  );
  if (!tables.has('operations')) {
    throw new Refusal(`${where}: not a scimtap database (it has no operations table)`);
  }
  const missing: string[] = [];
  const extra: string[] = [];
  for (const table of plan) {
    if (!tables.has(table.name)) {
      missing.push(table.name);
      continue;
    }
    const columns = db
      .prepare(`select name from pragma_table_info(${quote(table.name).replaceAll('"', "'")})`)
      .pluck()
      .all()
      .map((n) => String(n));
    for (const c of table.columns) if (!columns.includes(c)) missing.push(`${table.name}.${c}`);
    for (const c of columns) if (!table.columns.includes(c)) extra.push(`${table.name}.${c}`);
  }
  if (missing.length > 0) {
    throw new Refusal(
      `${where}: written by an older scimtap (no ${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ' ...' : ''}); ` +
        'start this version of scimtap on it once (it upgrades the file at startup), stop it, then migrate again',
    );
  }
  if (extra.length > 0) {
    throw new Refusal(
      `${where}: written by a newer scimtap (${extra.slice(0, 3).join(', ')} unknown to this one); run migrate-store from that version`,
    );
  }
}
