import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PostgresServer, startPostgres } from '../../../test/helpers/postgres.js';
import { migratePostgres, pgMigrationsFolder } from './migrate.js';
import { advisoryLockKeys, createPool, type Pool } from './pool.js';

describe('migratePostgres', () => {
  let server: PostgresServer;
  const pools: Pool[] = [];
  const pool = (url: string) => {
    const p = createPool(url, { max: 2 });
    pools.push(p);
    return p;
  };
  beforeAll(async () => {
    server = await startPostgres();
  });
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.end()));
    await server?.stop();
  });

  const applied = async (p: Pool) =>
    (await p.query('select count(*)::int as n from drizzle.__drizzle_migrations')).rows[0].n as number;
  /** the committed migrations, each of which must be applied exactly once */
  const committed = (
    JSON.parse(readFileSync(join(pgMigrationsFolder, 'meta', '_journal.json'), 'utf8')) as {
      entries: unknown[];
    }
  ).entries.length;

  // Two replicas starting together on an empty database: both succeed, each migration is applied once.
  it('lets two replicas migrate an empty database at the same time', async () => {
    const url = await server.createDatabase();
    const [a, b] = [pool(url), pool(url)];
    await Promise.all([migratePostgres(a), migratePostgres(b)]);
    expect(await applied(a)).toBe(committed);
    const tables = await a.query(
      "select table_name from information_schema.tables where table_schema = 'public' order by 1",
    );
    expect(tables.rows.map((r) => r.table_name)).toEqual([
      'bodies',
      'cycles',
      'delivery_attempts',
      'identities',
      'incidents',
      'memberships',
      'meta',
      'operation_terms',
      'operations',
      'outbox',
      'silences',
    ]);
    // A later start finds nothing to do.
    await migratePostgres(b);
    expect(await applied(b)).toBe(committed);
  });

  // The lock is what makes them take turns: a migrator waits while another holds it, then completes.
  it('waits for the migration lock', async () => {
    const url = await server.createDatabase();
    const holder = await pool(url).connect();
    await holder.query('select pg_advisory_lock($1)', [advisoryLockKeys.migrate.toString()]);
    const p = pool(url);
    let done = false;
    const migrating = migratePostgres(p).then(() => {
      done = true;
    });
    await new Promise((r) => setTimeout(r, 500));
    expect(done).toBe(false);
    const exists = await p.query("select to_regclass('public.operations') is not null as e");
    expect(exists.rows[0].e).toBe(false);
    await holder.query('select pg_advisory_unlock($1)', [advisoryLockKeys.migrate.toString()]);
    holder.release();
    await migrating;
    expect(await applied(p)).toBe(committed);
  });
});
