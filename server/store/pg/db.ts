import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import * as schema from '../schema-pg/index.js';
import type { Pool } from './pool.js';

// The PostgreSQL store's drizzle handle: the twin of store/db.ts's `Db`. The schema mirrors SQLite's
// (schema-pg/), so a query in pg/queries/ reads the same columns, under the same names, as its SQLite twin in
// queries/, and answers with the same types.

export type PgDb = NodePgDatabase<typeof schema> & { $client: Pool };

export function pgDatabase(pool: Pool): PgDb {
  return drizzle(pool, { schema, casing: 'snake_case' }) as PgDb;
}
