import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { config } from '../../../test/helpers/derive-compare.js';
import { type PostgresServer, startPostgres } from '../../../test/helpers/postgres.js';
import { dumps, recordDatabase } from '../../../test/helpers/recorded-db.js';
import { copiedTables, copyPlan, mustBeEmptyTables, sqliteTableNames } from './copy-plan.js';
import { createPgDerivation } from './derive/derivation.js';
import { insertOperationsIn } from './log.js';
import { migrateStore } from './migrate-store.js';
import { advisoryLockKeys, createPool, type Pool } from './pool.js';

describe('scimtap migrate-store', () => {
  let server: PostgresServer;
  let dir: string;
  let file: string;
  const pools: Pool[] = [];
  const pool = (url: string) => {
    const p = createPool(url, { max: 2 });
    pools.push(p);
    return p;
  };
  beforeAll(async () => {
    server = await startPostgres();
    dir = mkdtempSync(join(tmpdir(), 'scimtap-migrate-'));
    file = join(dir, 'scimtap.db');
    recordDatabase(file);
  });
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.end()));
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  // The copy is derived already: the leader's first batch derives nothing again.
  it('carries the derivation cursor over, so nothing copied is derived twice', async () => {
    const url = await server.createDatabase();
    await migrateStore({ from: file, to: url });
    const derivation = createPgDerivation({ pool: pool(url), config });
    expect(await derivation.step()).toBe(0);
  });

  // A table added to the SQLite schema must be added to the copy on purpose.
  it('copies every table of the SQLite schema', () => {
    expect([...copiedTables, ...mustBeEmptyTables].sort()).toEqual(sqliteTableNames().sort());
  });

  // Rows recorded through scimtap's own code (log writer, derivation, alert engine) land with their ids, every
  // column equal once converted (booleans, bigint ms, text), and the sequences continue after them.
  it('copies every row with its id, and new rows get new ids', async () => {
    const url = await server.createDatabase();
    const lines: string[] = [];
    const summary = await migrateStore({ from: file, to: url, batchSize: 37, report: (l) => lines.push(l) });
    const p = pool(url);
    const { source, target } = await dumps(file, p);
    // The one value converted: SQLite's cursor (an id) becomes the copied row's position in commit order.
    const cursor = target.meta?.find((row) => row[0] === 'derivation.cursor');
    const sqliteCursor = source.meta?.find((row) => row[0] === 'derivation.cursor');
    expect(String(sqliteCursor?.[1])).toMatch(/^\d+$/);
    expect(String(cursor?.[1])).toMatch(new RegExp(`^\\d+:${sqliteCursor?.[1]}$`));
    if (cursor) cursor[1] = sqliteCursor?.[1];
    for (const table of copiedTables) {
      expect(source[table]?.length, table).toBeGreaterThan(0);
      expect(target[table], table).toEqual(
        source[table]?.map((row) =>
          row.map((v) => (typeof v === 'string' ? v.replaceAll('\0', '\uFFFD') : v)),
        ),
      );
      expect(summary.tables.find((t) => t.table === table)?.rows).toBe(source[table]?.length);
    }
    expect(summary.nulReplaced).toBe(1);
    expect(lines.some((l) => /^operations: [\d,]+ rows \(/.test(l))).toBe(true);
    // Analyzed before it returns: the first queries are planned on the copied rows' statistics.
    const analyzed = await pool(url).query<{ relname: string }>(
      'select relname from pg_stat_user_tables where last_analyze is not null',
    );
    expect(analyzed.rows.map((r) => r.relname).sort()).toEqual([...copiedTables].sort());
    // And vacuumed: every copied page is all-visible, so index-only scans read no table rows.
    const vacuumed = await pool(url).query<{ relname: string; relpages: number; relallvisible: number }>(
      `select s.relname, c.relpages, c.relallvisible from pg_stat_user_tables s
         join pg_class c on c.oid = s.relid where s.last_vacuum is not null`,
    );
    expect(vacuumed.rows.map((r) => r.relname).sort()).toEqual([...copiedTables].sort());
    const operationsPages = vacuumed.rows.find((r) => r.relname === 'operations');
    expect(operationsPages?.relpages).toBeGreaterThan(0);
    expect(operationsPages?.relallvisible).toBe(operationsPages?.relpages);

    for (const t of copyPlan({ nulReplaced: 0 }).filter((t) => t.integerKey && t.name !== 'bodies')) {
      const max = Number(source[t.name]?.at(-1)?.[t.columns.indexOf('id')]);
      const next = await p.query(`select nextval(pg_get_serial_sequence('${t.name}', 'id'))::int as n`);
      expect(next.rows[0].n, t.name).toBe(max + 1);
    }
    // An operation written as the PostgreSQL log writes them: a new id, after the copied ones.
    const client = await p.connect();
    try {
      await client.query('begin');
      const [id] = await insertOperationsIn(client, [
        {
          time: Date.now(),
          durationMs: 3,
          httpMethod: 'GET',
          path: '/scim/v2/Users',
          resourceType: 'User',
          operation: 'lookup',
          provisioningAction: 'other',
          status: 'success',
        },
      ]);
      await client.query('commit');
      expect(id).toBeGreaterThan(Number(source.operations?.at(-1)?.[0]));
    } finally {
      client.release();
    }

    // Run again: nothing left to copy, nothing doubled.
    const again = await migrateStore({ from: file, to: url });
    expect(again.resumed).toBe(true);
    expect(again.tables.every((t) => t.copiedNow === 0)).toBe(true);
  });

  // A scimtap still running on the file may log a burst after the file was checked: the copy's snapshot is checked
  // again, rather than leave the burst out without a word.
  it('refuses a file whose burst was logged after it was opened', async () => {
    const url = await server.createDatabase();
    const from = join(dir, 'late-burst.db');
    recordDatabase(from, { cycles: 1, perCycle: 3 });
    // The file is opened and checked at once; the copy's snapshot begins after the target is connected.
    const copy = migrateStore({ from, to: url });
    const writer = new Database(from);
    writer.exec(`insert into pending_operations (id, time, duration_ms, http_method, path, resource_type, operation,
      provisioning_action, status) values (1000, 0, 1, 'GET', '/Users', 'User', 'lookup', 'Other', 'success')`);
    writer.close();
    await expect(copy).rejects.toThrow(
      /--from \(.*late-burst\.db\): 1 recorded operations are not derived yet \(pending_operations\)/,
    );
    // Refused before anything was written to the target (its schema is made first).
    const copied = (await pool(url).query('select count(*)::int as n from operations')).rows[0].n;
    expect(copied).toBe(0);
  });

  // Two copies into one database at once would interleave their batches: the second is refused.
  it('refuses a second copy into the same database while one runs', async () => {
    const url = await server.createDatabase();
    const holder = await pool(url).connect();
    try {
      await holder.query('select pg_advisory_lock($1)', [advisoryLockKeys.migrateStore.toString()]);
      await expect(migrateStore({ from: file, to: url })).rejects.toThrow(
        /--to \(.*\): another migrate-store is copying into it/,
      );
    } finally {
      holder.release(true);
    }
  });
});
