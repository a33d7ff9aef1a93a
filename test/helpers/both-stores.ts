import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Db, openDatabase } from '../../server/store/db.js';
import { type PgDb, pgDatabase } from '../../server/store/pg/db.js';
import { migrateStore } from '../../server/store/pg/migrate-store.js';
import { createPool, type Pool } from '../../server/store/pg/pool.js';
import type { PostgresServer } from './postgres.js';
import { recordDatabase } from './recorded-db.js';

// One recorded database on both stores: a SQLite file filled by scimtap's own code (recorded-db.ts), and its
// copy in a fresh PostgreSQL database made by `scimtap migrate-store`. A query's PostgreSQL twin
// (server/store/pg/queries/) must answer exactly what its SQLite original answers over the same rows.

export interface BothStores {
  sqlite: Db;
  pg: PgDb;
  pool: Pool;
  /** the SQLite file */
  file: string;
  /** the PostgreSQL database's URL */
  url: string;
  close(): Promise<void>;
}

export async function recordedOnBothStores(
  server: PostgresServer,
  shape: { cycles?: number; perCycle?: number } = {},
): Promise<BothStores> {
  const dir = mkdtempSync(join(tmpdir(), 'scimtap-both-'));
  const file = join(dir, 'scimtap.db');
  recordDatabase(file, shape);
  const url = await server.createDatabase();
  await migrateStore({ from: file, to: url });
  const sqlite = openDatabase(file);
  const pool = createPool(url, { max: 4 });
  return {
    sqlite,
    pg: pgDatabase(pool),
    pool,
    file,
    url,
    async close() {
      sqlite.$client.close();
      await pool.end();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
