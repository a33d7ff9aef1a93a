import pg from 'pg';

// One bounded pool per process for the PostgreSQL store. TLS comes from the URL (`sslmode=require`,
// `verify-full` ...), which the driver reads itself; the URL is never logged whole (config/store.ts redacts it).

export interface PoolOptions {
  /** connections at most: every replica's pool counts against the server's max_connections */
  max?: number;
  /** how long a query waits for a free connection before failing (the recorder then queues and retries) */
  connectionTimeoutMs?: number;
  /** called with errors of idle connections (server restart, network cut), which would otherwise crash */
  onError?: (err: Error) => void;
}

export function createPool(
  url: string,
  { max = 10, connectionTimeoutMs = 5_000, onError }: PoolOptions = {},
) {
  const pool = new pg.Pool({
    connectionString: url,
    max,
    connectionTimeoutMillis: connectionTimeoutMs,
    idleTimeoutMillis: 30_000,
    application_name: 'scimtap',
  });
  pool.on('error', (err) => onError?.(err));
  // The pool listens for the errors of idle connections only. A connection checked out between two statements
  // (a transaction's) when the server goes away emits its error with nobody listening, which would end the
  // process: every connection gets a listener of its own. The statement in flight, or the next, fails anyway.
  pool.on('connect', (client) => {
    client.on('error', (err) => onError?.(err));
  });
  return pool;
}

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

/**
 * Runs `work` in one transaction on a connection of its own: committed if it resolves, rolled back if it throws
 * (what it threw is rethrown). A connection whose rollback failed, or that the server cut, is closed rather than
 * given back to the pool, where it could hand the next caller an aborted transaction.
 */
export async function inTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken = false;
  try {
    await client.query('begin');
    const result = await work(client);
    await client.query('commit');
    return result;
  } catch (err) {
    // Rolled back, the connection is clean and goes back to the pool; one that cannot roll back is closed.
    await client.query('rollback').catch(() => {
      broken = true;
    });
    throw err;
  } finally {
    client.release(broken);
  }
}

/**
 * Session-level advisory lock keys, one per purpose, in a range of their own ("scimtap" in the high bits) so
 * they cannot collide with another application's locks on a shared server.
 */
export const advisoryLockKeys = {
  migrate: 0x5c17a9_0000_0001n,
  leader: 0x5c17a9_0000_0002n,
  /** one `scimtap migrate-store` at a time per target database */
  migrateStore: 0x5c17a9_0000_0003n,
} as const;
