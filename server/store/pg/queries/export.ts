import { and, asc, gt, lte, max } from 'drizzle-orm';
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
/** `ExportSource`'s order: the CSV's columns after the app's. */
const exportKeys = Object.keys(operationFieldNames) as ExportedKey[];
const exportFields = Object.fromEntries(exportKeys.map((k) => [k, operations[k]])) as {
  [K in ExportedKey]: (typeof operations)[K];
};

/**
 * The twin of queries/export.ts's `exportCsv`, the same text in the same slices: the header, then the
 * operations oldest first. Keyset pages by id (`id > last`), one short query per `chunkRows` and no transaction
 * held between them, so memory stays flat however many rows there are, and a client that reads slowly holds
 * nothing open in the database. The upper bound is the newest id when it starts: rows recorded while it streams
 * are left for the next export.
 */
export async function* exportCsv(
  db: PgDb,
  filter: OperationFilter,
  { chunkRows = 2_000, sliceRows = 500, app = SINGLE_APP_ID }: ExportOptions = {},
): AsyncGenerator<string> {
  const appField = csvRecord([app]).slice(0, -2);
  const where = operationWhere(filter, filter.q ? await matchSearch(db, filter.q) : undefined);
  const window = await timeWindowIds(db, filter, Number.POSITIVE_INFINITY);
  const newest = (await db.select({ id: max(operations.id) }).from(operations))[0]?.id ?? 0;
  yield csvRecord(exportColumns);
  if (window === 'empty') return;
  const last = window ? Math.min(window.hi, newest) : newest;
  let after = window ? window.lo - 1 : 0;
  while (true) {
    const rows = await db
      .select(exportFields)
      .from(operations)
      .where(and(...where, gt(operations.id, after), lte(operations.id, last)))
      .orderBy(asc(operations.id))
      .limit(chunkRows);
    if (rows.length === 0) return;
    for (let i = 0; i < rows.length; i += sliceRows) {
      let text = '';
      const end = Math.min(rows.length, i + sliceRows);
      for (let j = i; j < end; j++) {
        const source = exportKeys.map((k) => rows[j][k]) as ExportSource;
        text += `${appField},${csvRecord(toExportRow(source))}`;
      }
      yield text;
    }
    if (rows.length < chunkRows) return;
    after = rows[rows.length - 1].id;
  }
}
