import type { Logger } from 'pino';
import type { Closers } from '../../closers.js';
import { driverError, isRetryablePgError } from './log-write.js';
import { migratePostgres } from './migrate.js';
import { createPool, type Pool } from './pool.js';

// Opening the PostgreSQL store at startup (server/pg-pipeline.ts): the pool, and the migrations applied now or,
// while the server cannot be reached, as soon as it can.

/** Until the migrations are applied, nothing may write: the tables may not exist yet. */
export class SchemaPending extends Error {
  constructor() {
    super('the database is not reachable yet: its migrations are not applied');
  }
}

/**
 * The pool, with the committed migrations applied under a lock (two replicas starting together take turns). A
 * database that refuses the settings (a wrong password, no such database) stops scimtap with the reason. One that
 * cannot be reached is an outage like any other: scimtap starts, forwards, and queues what it records, and the
 * migrations are tried again every 5 s; until they are applied nothing writes (`schema.ready()` is false).
 */
export async function openPgStore(
  url: string,
  {
    shown,
    logger,
    closers,
  }: {
    /** the URL as it may be shown (config.db: the password masked) */
    shown: string;
    logger: Pick<Logger, 'warn' | 'error'>;
    closers: Pick<Closers, 'add'>;
  },
): Promise<{ pool: Pool; schema: Schema }> {
  const pool = createPool(url, {
    onError: (err) => logger.warn({ err: driverError(err) }, 'database: a connection failed'),
  });
  let ready = false;
  try {
    await migratePostgres(pool);
    ready = true;
  } catch (err) {
    if (!isRetryablePgError(err)) {
      await pool.end().catch(() => {});
      // The driver's message names host and port at most: never the URL, so never its password.
      throw new Error(`SCIMTAP_DB (${shown}): cannot open the PostgreSQL store: ${driverError(err).message}`);
    }
    logger.error(
      { err: driverError(err), db: shown },
      'database: unreachable at startup; forwarding and queueing, trying again every 5 s',
    );
  }
  const retry = ready ? undefined : setInterval(() => void migrateAgain(), 5_000);
  retry?.unref();
  let trying = false;
  async function migrateAgain(): Promise<void> {
    if (trying || ready) return;
    trying = true;
    try {
      await migratePostgres(pool);
      ready = true;
      clearInterval(retry);
      logger.warn('database: reachable, migrations applied; recording resumes');
    } catch {
      // still unreachable: the recorder says so (failing), and the next try comes
    } finally {
      trying = false;
    }
  }
  closers.add('database pool', async () => {
    clearInterval(retry);
    await pool.end();
  });
  return { pool, schema: { ready: () => ready } };
}

export interface Schema {
  ready(): boolean;
}
