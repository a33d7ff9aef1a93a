import { bigint, customType } from 'drizzle-orm/pg-core';

// Column shapes shared by the PostgreSQL tables. They mirror the SQLite schema (server/store/schema/): same
// tables, columns and index names, so one vocabulary and one set of queries serve both stores.

/**
 * Row ids: bigint identity "by default", not "always", so `scimtap migrate-store` can copy rows with their
 * SQLite ids (cursors, links and outbox references stay valid) and then move the sequence past them.
 */
export const id = (name = 'id') =>
  bigint(name, { mode: 'number' }).primaryKey().generatedByDefaultAsIdentity();

/** A reference to another row's id. */
export const ref = (name: string) => bigint(name, { mode: 'number' });

/** Integer milliseconds since the epoch, as in SQLite: they overflow a 32-bit integer. */
export const ms = (name: string) => bigint(name, { mode: 'number' });

/** A transaction id (PostgreSQL 13+), read back as a decimal string: it may exceed 2^53. */
export const xid8 = customType<{ data: string; driverData: string }>({
  dataType: () => 'xid8',
});
