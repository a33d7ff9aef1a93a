import { and, asc, gt, lte, max, sql } from 'drizzle-orm';
import pg from 'pg';
import { SINGLE_APP_ID } from '../../../config/apps.js';
import { operationFieldNames } from '../../../vocabulary.js';
import {
  csvRecord,
  type ExportOptions,
  type ExportSource,
  exportColumns,
  toExportRow,
} from '../../queries/export.js';
import type { OperationFilter } from '../../queries/operations.js';
import { operations } from '../../schema-pg/index.js';
import type { PgDb } from '../db.js';
import { matchSearch, operationWhere, timeWindowIds } from './operations.js';

type ExportedKey = keyof typeof operationFieldNames;
/** Selected in `ExportSource`'s order (the CSV's columns after the app's): the rows are read as arrays. */
const exportKeys = Object.keys(operationFieldNames) as ExportedKey[];
const exportFields = Object.fromEntries(exportKeys.map((k) => [k, operations[k]])) as {
  [K in ExportedKey]: (typeof operations)[K];
};

/** bigint columns (ids, times) as numbers, as drizzle's `mode: 'number'` reads them; the rest as the driver does */
const int8AsNumber = {
  getTypeParser: (oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.INT8 ? Number : pg.types.getTypeParser(oid, format),
};

/**
 * The twin of queries/export.ts's `exportCsv`, the same text in the same slices: the header, then the
 * operations oldest first. Keyset pages by id (`id > last`), one short query per `chunkRows` and no transaction
 * held between them, so memory stays flat however many rows there are, and a client that reads slowly holds
 * nothing open in the database. It is of the database as it was when it started: rows committed while it streams
 * are left for the next export, whatever their ids (each page keeps only rows visible in the start's snapshot).
 *
 * What keeps it above 100,000 rows/s (bench/stores.ts): each page is read as arrays in `ExportSource` order
 * straight from the driver (drizzle's mapping of each row to an object, which was then mapped back to an array,
 * took a third of the CPU time), and the next page is asked for before this one is written, so the server
 * reads and sends it while the CSV is made instead of in between.
 */
export async function* exportCsv(
  db: PgDb,
  filter: OperationFilter,
  { chunkRows = 2_000, sliceRows = 500, app = SINGLE_APP_ID }: ExportOptions = {},
): AsyncGenerator<string> {
  const appField = csvRecord([app]).slice(0, -2);
  const where = operationWhere(filter, filter.q ? await matchSearch(db, filter.q) : undefined);
  const window = await timeWindowIds(db, filter, Number.POSITIVE_INFINITY);
  // The snapshot the export is of. With several replicas writing, ids are not commit order: a row with an id
  // below `newest` may commit while the export streams, and must be left out as the rows above it are.
  const [start] = await db
    .select({ id: max(operations.id), snapshot: sql<string>`pg_current_snapshot()::text` })
    .from(operations);
  const newest = start?.id ?? 0;
  const visible = sql`pg_visible_in_snapshot(${operations.txid}, ${start?.snapshot ?? null}::pg_snapshot)`;
  yield csvRecord(exportColumns);
  if (window === 'empty') return;
  const last = window ? Math.min(window.hi, newest) : newest;
  const page = async (after: number): Promise<ExportSource[]> => {
    const query = db
      .select(exportFields)
      .from(operations)
      .where(and(...where, gt(operations.id, after), lte(operations.id, last), visible))
      .orderBy(asc(operations.id))
      .limit(chunkRows)
      .toSQL();
    const { rows } = await db.$client.query<ExportSource>({
      text: query.sql,
      values: query.params,
      rowMode: 'array',
      types: int8AsNumber,
    });
    return rows;
  };
  let next: Promise<ExportSource[]> | undefined = page(window ? window.lo - 1 : 0);
  try {
    while (next) {
      const rows: ExportSource[] = await next;
      next = rows.length < chunkRows ? undefined : page(rows[rows.length - 1][0]);
      // Handled now, thrown when awaited: it may fail while a slow client holds this generator at a yield.
      next?.catch(() => {});
      for (let i = 0; i < rows.length; i += sliceRows) {
        // A turn of the event loop before each slice, as SQLite's store takes (admin-store.ts): other requests
        // are served, and the next page's rows are read off the socket as they come, which keeps the server
        // sending them rather than waiting on a full socket buffer until this page is written.
        await new Promise((resolve) => setImmediate(resolve));
        let text = '';
        const end = Math.min(rows.length, i + sliceRows);
        for (let j = i; j < end; j++) text += `${appField},${csvRecord(toExportRow(rows[j]))}`;
        yield text;
      }
    }
  } finally {
    // A client that went away: the page being read is waited for, so the export gives its connection back
    // before it ends.
    await next?.catch(() => {});
  }
}
