import type Database from 'better-sqlite3';
import { redactUrl } from '../../config/store.js';
import { type ConvertStats, copyPlan, quote, type TablePlan } from './copy-plan.js';
import { cursorKey } from './derive/workspace.js';
import { migratePostgres } from './migrate.js';
import { checkDerived, openSource, Refusal, type Source } from './migrate-store-source.js';
import { advisoryLockKeys, createPool, type Pool, type PoolClient } from './pool.js';

// `scimtap migrate-store`: copies a scimtap SQLite database into PostgreSQL, table by table, in batches in key
// order. Each batch commits with its progress row (meta `migrate-store.table.<name>`: the last key copied), so a
// run that is killed and started again continues after the last committed batch and never copies a row twice.
// The SQLite file is read in one read transaction: the copy is of the database as it was when the run started.

export const progressPrefix = 'migrate-store.';
const sourceKey = `${progressPrefix}source`;
const doneKey = `${progressPrefix}done`;
const tableKey = (table: string) => `${progressPrefix}table.${table}`;
/** a batch also ends at this many bytes of JSON, however many rows it has (bodies may be large) */
const maxBatchBytes = 16 * 1024 * 1024;

export { Refusal };

export interface MigrateStoreOptions {
  from: string;
  to: string;
  batchSize?: number;
  /** copy into a target that holds other data by emptying its scimtap tables first */
  force?: boolean;
  /** progress lines (stderr) */
  report?: (line: string) => void;
  /** at most one progress line per this many ms */
  reportEveryMs?: number;
}

export interface TableSummary {
  table: string;
  rows: number;
  copiedNow: number;
}

export interface MigrateStoreSummary {
  tables: TableSummary[];
  seconds: number;
  resumed: boolean;
  nulReplaced: number;
}

/** The URL's password, masked, in any message a driver or server gave back. */
export function scrub(message: string, url: string): string {
  let password = '';
  try {
    password = new URL(url).password;
  } catch {}
  let out = message.replaceAll(url, redactUrl(url));
  for (const p of new Set([password, safeDecode(password)])) if (p.length > 0) out = out.replaceAll(p, '***');
  return out;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export async function migrateStore(options: MigrateStoreOptions): Promise<MigrateStoreSummary> {
  const { to, batchSize = 5_000, force = false, report = () => {}, reportEveryMs = 500 } = options;
  const started = Date.now();
  const stats: ConvertStats = { nulReplaced: 0 };
  const plan = copyPlan(stats);
  const source = openSource(options.from, plan);
  const target = redactUrl(to);
  const pool = createPool(to, { max: 2, connectionTimeoutMs: 10_000, onError: () => {} });
  let lock: PoolClient | undefined;
  try {
    try {
      lock = await pool.connect();
    } catch (err) {
      throw new Refusal(`--to (${target}): cannot connect: ${scrub((err as Error).message, to)}`);
    }
    const { rows } = await lock.query<{ ok: boolean }>('select pg_try_advisory_lock($1) as ok', [
      advisoryLockKeys.migrateStore.toString(),
    ]);
    if (!rows[0]?.ok) throw new Refusal(`--to (${target}): another migrate-store is copying into it`);
    await migratePostgres(pool);
    // The copy reads one snapshot of the file, and its first read checks that nothing waits to be derived in it.
    source.db.exec('begin');
    checkDerived(source.db, `--from (${options.from})`);
    const resumed = await prepareTarget(pool, plan, source, { force, target });
    const tables: TableSummary[] = [];
    const reporter = createReporter(report, reportEveryMs);
    for (const table of plan) tables.push(await copyTable(pool, source.db, table, { batchSize, reporter }));
    source.db.exec('commit');
    await convertCursor(pool);
    // Planner statistics now, not when autovacuum gets round to it: until then the API's first queries over a
    // million copied rows would be planned as if the tables were empty. And a vacuum, which marks the copied
    // pages all-visible: until then an index-only scan (the time window's ids) reads the table's row for every
    // index entry it reads (last 30 days of 1,000,000: 163,661 heap fetches, 98 ms, against none and 19 ms).
    report('vacuum analyze: visibility map and planner statistics for the copied tables');
    await walFlushed(pool);
    await pool.query(`vacuum (analyze) ${plan.map((t) => quote(t.name)).join(', ')}`);
    await pool.query(
      'insert into meta (key, value) values ($1, $2) on conflict (key) do update set value = excluded.value',
      [doneKey, new Date().toISOString()],
    );
    return { tables, seconds: (Date.now() - started) / 1000, resumed, nulReplaced: stats.nulReplaced };
  } catch (err) {
    if (err instanceof Refusal) throw err;
    throw new Error(scrub((err as Error).message, to));
  } finally {
    source.db.close();
    lock?.release(true);
    await pool.end();
  }
}

/**
 * SQLite's derivation cursor is an operation id; PostgreSQL's is a position in commit order, (txid, id)
 * (pg/log.ts). The copy commits its batches one after another in id order, so for copied rows the two orders
 * agree, and "derived up to id N" is the position of the last copied row with id <= N. Left as a bare id, the
 * leader would take it for no cursor at all and derive every copied row again.
 */
async function convertCursor(pool: Pool): Promise<void> {
  await pool.query(
    `update meta set value = coalesce(
       (select txid::text || ':' || id from operations where id <= meta.value::bigint order by id desc limit 1),
       '0:0')
     where key = $1 and value ~ '^[0-9]+$'`,
    [cursorKey],
  );
}

/**
 * Waits (at most `timeoutMs`) until the WAL written so far is flushed. A vacuum marks a page all-visible only
 * once its rows' commits are flushed: under `synchronous_commit = off` that is up to a few `wal_writer_delay`
 * after the commit, so a vacuum straight after the copy would leave the last batches' pages unmarked.
 */
async function walFlushed(pool: Pool, timeoutMs = 5_000): Promise<void> {
  const { rows } = await pool.query<{ lsn: string }>('select pg_current_wal_insert_lsn()::text as lsn');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const flushed = await pool.query<{ ok: boolean }>(
      'select pg_current_wal_flush_lsn() >= $1::pg_lsn as ok',
      [rows[0]?.lsn],
    );
    if (flushed.rows[0]?.ok || Date.now() > deadline) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Refuses a target holding data no earlier run of this copy wrote (unless `force`: then empties it); returns
 * whether an earlier run of the same copy is being resumed.
 */
async function prepareTarget(
  pool: Pool,
  plan: TablePlan[],
  source: Source,
  { force, target }: { force: boolean; target: string },
): Promise<boolean> {
  if (force) {
    await pool.query(`truncate ${plan.map((t) => quote(t.name)).join(', ')} restart identity`);
  }
  const recorded = await pool.query<{ value: string }>('select value from meta where key = $1', [sourceKey]);
  const earlier = recorded.rows[0]?.value;
  if (earlier !== undefined) {
    if (earlier === source.fingerprint) return true;
    throw new Refusal(
      `--to (${target}): holds an earlier migrate-store copy of another SQLite database (${describeFingerprint(earlier)}); ` +
        'use --force to empty it and copy --from again',
    );
  }
  const held: string[] = [];
  for (const t of plan) {
    const { rows } = await pool.query<{ n: number }>(
      `select count(*)::int as n from (select 1 from ${quote(t.name)} limit 1000) as sample`,
    );
    const n = rows[0]?.n ?? 0;
    if (n > 0) held.push(`${t.name}: ${n >= 1000 ? '1,000 or more' : n} rows`);
  }
  if (held.length > 0) {
    throw new Refusal(
      `--to (${target}): already holds scimtap data that migrate-store did not copy (${held.join(', ')}); ` +
        'use --force to empty those tables and copy --from into it',
    );
  }
  await pool.query('insert into meta (key, value) values ($1, $2)', [sourceKey, source.fingerprint]);
  return false;
}

function describeFingerprint(value: string): string {
  try {
    const { file } = JSON.parse(value) as { file?: string };
    return file ? `from ${file}` : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Progress lines: each table's last line always, the ones in between at most one per `everyMs`. */
interface Reporter {
  say(line: string): void;
  tick(line: () => string): void;
}

function createReporter(report: (line: string) => void, everyMs: number): Reporter {
  let last = Date.now();
  return {
    say(line) {
      last = Date.now();
      report(line);
    },
    tick(line) {
      if (Date.now() - last < everyMs) return;
      last = Date.now();
      report(line());
    },
  };
}

interface Progress {
  /** the key of the last row copied, in key order */
  after: unknown[];
  rows: number;
}

async function copyTable(
  pool: Pool,
  sqlite: Database.Database,
  table: TablePlan,
  { batchSize, reporter }: { batchSize: number; reporter: Reporter },
): Promise<TableSummary> {
  const keyList = table.key.map(quote).join(', ');
  const saved = await pool.query<{ value: string }>('select value from meta where key = $1', [
    tableKey(table.name),
  ]);
  const progress: Progress = saved.rows[0] ? JSON.parse(saved.rows[0].value) : { after: [], rows: 0 };
  const total = Number(
    sqlite
      .prepare(`select count(*) from ${quote(table.name)}`)
      .pluck()
      .get(),
  );
  const columns = table.columns.map(quote).join(', ');
  const select = (after: boolean) =>
    sqlite.prepare(
      `select ${columns} from ${quote(table.name)}` +
        (after ? ` where (${keyList}) > (${table.key.map(() => '?').join(', ')})` : '') +
        ` order by ${keyList} limit ?`,
    );
  const first = select(false);
  const next = select(true);
  const keyIndexes = table.key.map((k) => table.columns.indexOf(k));
  const insert =
    `insert into ${quote(table.name)} (${columns}) ` +
    `select ${columns} from json_populate_recordset(null::${quote(table.name)}, $1::json)`;
  const started = Date.now();
  let copiedNow = 0;
  const line = (final: boolean) => {
    const seconds = (Date.now() - started) / 1000;
    const rate = seconds > 0 ? Math.round(copiedNow / seconds) : copiedNow;
    return final
      ? `${table.name}: ${fmt(progress.rows)} rows (${fmt(copiedNow)} copied now in ${seconds.toFixed(1)} s, ${fmt(rate)} rows/s)`
      : `${table.name}: ${fmt(progress.rows)} / ${fmt(total)} rows (${fmt(rate)} rows/s)`;
  };
  if (progress.rows > 0 && progress.rows < total) {
    reporter.say(`${table.name}: resuming after ${fmt(progress.rows)} rows copied earlier`);
  }
  for (;;) {
    const statement = progress.after.length === 0 ? first : next;
    const rows: Record<string, unknown>[] = [];
    let bytes = 0;
    let last: unknown[] | undefined;
    for (const raw of statement.raw().iterate(...progress.after, batchSize) as Iterable<unknown[]>) {
      const row: Record<string, unknown> = {};
      for (let i = 0; i < table.columns.length; i++)
        row[table.columns[i] as string] = table.convert[i]?.(raw[i]);
      rows.push(row);
      last = keyIndexes.map((i) => raw[i]);
      bytes += JSON.stringify(row).length;
      if (bytes >= maxBatchBytes) break;
    }
    if (rows.length === 0 || !last) break;
    const client = await pool.connect();
    let broken = false;
    try {
      await client.query('begin');
      await client.query(insert, [JSON.stringify(rows)]);
      const value = JSON.stringify({ after: last, rows: progress.rows + rows.length } satisfies Progress);
      await client.query(
        'insert into meta (key, value) values ($1, $2) on conflict (key) do update set value = excluded.value',
        [tableKey(table.name), value],
      );
      await client.query('commit');
    } catch (err) {
      broken = true;
      await client.query('rollback').catch(() => {});
      throw new Error(`${table.name}: ${(err as Error).message}`);
    } finally {
      client.release(broken);
    }
    progress.after = last;
    progress.rows += rows.length;
    copiedNow += rows.length;
    reporter.tick(() => line(false));
  }
  if (table.integerKey) await advanceSequence(pool, table);
  reporter.say(
    copiedNow === 0 && progress.rows > 0
      ? `${table.name}: ${fmt(progress.rows)} rows, copied earlier`
      : line(true),
  );
  return { table: table.name, rows: progress.rows, copiedNow };
}

/** Moves an identity's sequence past the copied ids, so the next insert gets a new one. */
async function advanceSequence(pool: Pool, table: TablePlan): Promise<void> {
  const column = table.key[0] as string;
  const { rows } = await pool.query<{ seq: string | null }>('select pg_get_serial_sequence($1, $2) as seq', [
    quote(table.name),
    column,
  ]);
  const seq = rows[0]?.seq;
  if (!seq) return;
  await pool.query(
    `select setval($1::regclass, coalesce((select max(${quote(column)}) from ${quote(table.name)}), 0) + 1, false)`,
    [seq],
  );
}

export const fmt = (n: number) => n.toLocaleString('en-US');
