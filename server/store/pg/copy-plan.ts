import { is } from 'drizzle-orm';
import { PgTable, getTableConfig as pgTableConfig } from 'drizzle-orm/pg-core';
import { SQLiteTable, getTableConfig as sqliteTableConfig } from 'drizzle-orm/sqlite-core';
import * as sqliteSchema from '../schema/index.js';
import * as pgSchema from '../schema-pg/index.js';

// What `scimtap migrate-store` copies, table by table: read from the two schemas, so a column added to both is
// copied without a change here. The table list itself is spelt out: a table added to the SQLite schema must be
// added here on purpose (copy-plan.test.ts fails until it is), since a new table may need more than a copy.

/** Every SQLite table, in copy order: the log first (the bulk of the work), then what is derived from it. */
export const copiedTables = [
  'operations',
  'bodies',
  'operation_terms',
  'cycles',
  'identities',
  'memberships',
  'incidents',
  'silences',
  'outbox',
  'delivery_attempts',
  'meta',
] as const;

export type CopiedTable = (typeof copiedTables)[number];

/**
 * SQLite tables that are not copied, and must be empty for the copy to start: pending_operations holds a burst
 * not derived yet (store/pending.ts), which scimtap moves into `operations` when it runs.
 */
export const mustBeEmptyTables = ['pending_operations'] as const;

/** How a value is written for a PostgreSQL column type. */
type Convert = (value: unknown) => unknown;

export interface TablePlan {
  name: CopiedTable;
  /** the primary key's columns, in order: rows are read and resumed in this order */
  key: string[];
  /** a single integer key (an id): its identity sequence is moved past the copied rows */
  integerKey: boolean;
  /** the columns both stores have (PostgreSQL's own, e.g. operations.txid, take their defaults) */
  columns: string[];
  convert: Convert[];
}

/** Text PostgreSQL cannot store: NUL characters. Replaced, and counted so the summary can say so. */
export const nulReplacement = '\uFFFD';

export interface ConvertStats {
  nulReplaced: number;
}

function converter(sqlType: string, stats: ConvertStats): Convert {
  const text = (v: unknown): unknown => {
    if (v === null || v === undefined) return null;
    const s = Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
    if (!s.includes('\0')) return s;
    stats.nulReplaced++;
    return s.replaceAll('\0', nulReplacement);
  };
  switch (sqlType) {
    case 'boolean':
      // SQLite stores booleans as 0 / 1.
      return (v) => (v === null || v === undefined ? null : Boolean(Number(v)));
    case 'bigint':
    case 'integer':
      // better-sqlite3 reads integers as numbers; a BigInt (beyond 2^53) travels as its decimal text.
      return (v) => (typeof v === 'bigint' ? v.toString() : (v ?? null));
    case 'text':
      return text;
    case 'bytea':
      return (v) => (v === null || v === undefined ? null : `\\x${Buffer.from(v as Buffer).toString('hex')}`);
    default:
      throw new Error(`migrate-store: no conversion for PostgreSQL type ${sqlType}`);
  }
}

function tables<T>(schema: Record<string, unknown>, kind: typeof SQLiteTable | typeof PgTable): T[] {
  return Object.values(schema).filter((t) => is(t, kind)) as T[];
}

/** The plan for every table; throws when the two schemas disagree on one (mirror.test.ts keeps them equal). */
export function copyPlan(stats: ConvertStats): TablePlan[] {
  const sqliteTables = new Map(
    tables<SQLiteTable>(sqliteSchema, SQLiteTable).map((t) => {
      const c = sqliteTableConfig(t);
      return [c.name, c] as const;
    }),
  );
  const pgTables = new Map(
    tables<PgTable>(pgSchema, PgTable).map((t) => {
      const c = pgTableConfig(t);
      return [c.name, c] as const;
    }),
  );
  return copiedTables.map((name) => {
    const s = sqliteTables.get(name);
    const p = pgTables.get(name);
    if (!s || !p) throw new Error(`migrate-store: table ${name} is missing from a schema`);
    const key = s.columns.filter((c) => c.primary).map((c) => c.name);
    if (key.length === 0) key.push(...(s.primaryKeys[0]?.columns.map((c) => c.name) ?? []));
    if (key.length === 0) throw new Error(`migrate-store: table ${name} has no primary key`);
    const pgColumns = new Map(p.columns.map((c) => [c.name, c]));
    const columns = s.columns.map((c) => c.name).filter((c) => pgColumns.has(c));
    const keyColumn = s.columns.find((c) => c.name === key[0]);
    return {
      name,
      key,
      integerKey: key.length === 1 && keyColumn?.getSQLType() === 'integer',
      columns,
      convert: columns.map((c) => converter(pgColumns.get(c)?.getSQLType() ?? '', stats)),
    };
  });
}

/** The SQLite table names in a schema module: what copy-plan.test.ts compares `copiedTables` against. */
export function sqliteTableNames(): string[] {
  return tables<SQLiteTable>(sqliteSchema, SQLiteTable).map((t) => sqliteTableConfig(t).name);
}

/** Quotes an identifier for either dialect (names come from the schemas, never from input). */
export const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;
