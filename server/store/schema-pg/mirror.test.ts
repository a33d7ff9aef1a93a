import { is } from 'drizzle-orm';
import { PgTable, getTableConfig as pgTableConfig } from 'drizzle-orm/pg-core';
import { SQLiteTable, getTableConfig as sqliteTableConfig } from 'drizzle-orm/sqlite-core';
import { describe, expect, it } from 'vitest';
import * as sqlite from '../schema/index.js';
import * as pg from './index.js';

// The two stores must be one schema in two dialects: the same tables, columns and index names, so queries and
// the coming `migrate-store` copy can name them once. PostgreSQL adds only the log's transaction id.
const pgOnly = new Set(['operations.txid', 'operations_log_idx']);
// SQLite's lean hot path for bursts (store/pending.ts); PostgreSQL's log has its own (transaction ids).
const sqliteOnly = new Set(['pending_operations']);

describe('the PostgreSQL schema mirrors the SQLite one', () => {
  const sqliteTables = (Object.values(sqlite) as unknown[])
    .filter((t): t is SQLiteTable => is(t, SQLiteTable))
    .map((t) => sqliteTableConfig(t))
    .filter((t) => !sqliteOnly.has(t.name));
  const pgTables = (Object.values(pg) as unknown[])
    .filter((t): t is PgTable => is(t, PgTable))
    .map((t) => pgTableConfig(t));

  it('has the same tables', () => {
    expect(pgTables.map((t) => t.name).sort()).toEqual(sqliteTables.map((t) => t.name).sort());
  });

  it.each(sqliteTables.map((t) => [t.name, t] as const))(
    '%s: same columns, nullability and indexes',
    (name, s) => {
      const p = pgTables.find((t) => t.name === name);
      expect(p).toBeDefined();
      if (!p) return;
      const columns = (cs: { name: string; notNull: boolean }[]) =>
        cs
          .map((c) => `${c.name}${c.notNull ? ' not null' : ''}`)
          .filter((c) => !pgOnly.has(`${name}.${c.split(' ')[0]}`));
      expect(columns(p.columns).sort()).toEqual(columns(s.columns).sort());
      const indexes = (is: { config: { name?: string; unique: boolean } }[]) =>
        is.map((i) => `${i.config.name}${i.config.unique ? ' unique' : ''}`).filter((i) => !pgOnly.has(i));
      expect(indexes(p.indexes).sort()).toEqual(indexes(s.indexes).sort());
    },
  );
});
