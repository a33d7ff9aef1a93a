import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PostgresServer, startPostgres } from '../../../test/helpers/postgres.js';
import { createPool, inTransaction, type Pool } from './pool.js';

// One transaction on a connection of its own: committed, or rolled back and the connection given back clean. A
// connection that cannot roll back (the server cut it) is closed, never handed to the next caller.

describe('inTransaction', () => {
  let server: PostgresServer;
  let pool: Pool;
  beforeAll(async () => {
    server = await startPostgres();
    pool = createPool(await server.createDatabase(), { max: 1 });
    await pool.query('create table t (n int)');
  });
  afterAll(async () => {
    await pool?.end();
    await server?.stop();
  });
  const count = async () => (await pool.query<{ n: number }>('select count(*)::int as n from t')).rows[0].n;
  const backend = async () =>
    (await pool.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0].pid;

  it('commits what resolves, and rolls back what throws on a connection it keeps', async () => {
    await inTransaction(pool, (c) => c.query('insert into t values (1)'));
    const before = await backend();
    await expect(
      inTransaction(pool, async (c) => {
        await c.query('insert into t values (2)');
        throw new Error('the work failed');
      }),
    ).rejects.toThrow('the work failed');
    expect(await count()).toBe(1);
    // the same server process: the connection went back to the pool, clean
    expect(await backend()).toBe(before);
    expect(pool.totalCount).toBe(1);
  });

  it('closes a connection the server cut, and the next transaction gets a new one', async () => {
    const before = await backend();
    await expect(
      inTransaction(pool, (c) => c.query('select pg_terminate_backend(pg_backend_pid())')),
    ).rejects.toThrow();
    await inTransaction(pool, (c) => c.query('insert into t values (3)'));
    expect(await backend()).not.toBe(before);
    expect(await count()).toBe(2);
  });
});
