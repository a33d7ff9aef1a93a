import { join } from 'node:path';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import { packageRoot } from '../../paths.js';
import { advisoryLockKeys, type Pool } from './pool.js';

export const pgMigrationsFolder = join(packageRoot, 'drizzle', 'pg');

/**
 * Applies the committed PostgreSQL migrations (drizzle/pg) at startup. Drizzle's migrator reads the last applied
 * migration, then applies the rest: two replicas starting together would both see "none" and both run the
 * first one. A session advisory lock makes them take turns; the second then finds nothing to do. The lock
 * belongs to the connection, so a replica that dies mid-migration frees it (its transaction rolls back too).
 */
export async function migratePostgres(
  pool: Pool,
  { migrationsFolder = pgMigrationsFolder }: { migrationsFolder?: string } = {},
): Promise<void> {
  const client = await pool.connect();
  let broken = false;
  try {
    await client.query('select pg_advisory_lock($1)', [advisoryLockKeys.migrate.toString()]);
    try {
      await migrate(drizzle(client), { migrationsFolder });
    } finally {
      // On failure the connection is closed below, which frees the lock anyway: keep the first error.
      await client
        .query('select pg_advisory_unlock($1)', [advisoryLockKeys.migrate.toString()])
        .catch(() => {});
    }
  } catch (err) {
    broken = true;
    throw err;
  } finally {
    // A connection that failed mid-way may still hold the lock or an aborted transaction: close it.
    client.release(broken);
  }
}
