import { and, asc, gt, lte, sql } from 'drizzle-orm';
import { SINGLE_APP_ID } from '../../config/apps.js';
import { operationFieldNames } from '../../vocabulary.js';
import type { Db } from '../db.js';
import { operations } from '../schema/index.js';
import { matchSearch, type OperationFilter, operationWhere, timeWindowIds } from './operations.js';

/**
 * ARCHITECTURE §9: named after Microsoft Graph's provisioning log fields, so Entra log readers read these too.
 * The same names as /api/operations' (server/vocabulary.ts), in this order, after the app's id (issue 14: one
 * scimtap serves several apps, and exports of several apps can be read together).
 */
export const exportColumns = ['app', ...Object.values(operationFieldNames)];

type ExportedKey = keyof typeof operationFieldNames;
const exportFields = Object.fromEntries(
  (Object.keys(operationFieldNames) as ExportedKey[]).map((k) => [k, operations[k]]),
) as { [K in ExportedKey]: (typeof operations)[K] };

/** One row as the export query returns it: `exportFields`' values in order (arrays read faster than objects). */
export type ExportSource = [
  id: number,
  time: number,
  cycleId: number | null,
  provisioningAction: string,
  operation: string,
  status: string,
  identityType: string | null,
  identity: string | null,
  externalId: string | null,
  targetId: string | null,
  httpMethod: string,
  path: string,
  httpStatus: number | null,
  durationMs: number,
  errorCode: string | null,
  scimType: string | null,
  reason: string | null,
  modifiedProperties: string,
];

// A spreadsheet runs a cell that starts with one of these as a formula (CSV injection, ARCHITECTURE §7).
// The full-width forms are included because some spreadsheets (Apple Numbers) normalise them to ASCII.
const formulaChars = new Set(['=', '+', '-', '@', '\uFF1D', '\uFF0B', '\uFF0D', '\uFF20']);
// A leading tab or carriage return is neutralised whatever follows (OWASP CSV injection).
const controlStart = new Set(['\t', '\r', '\n']);
// What a spreadsheet skips or trims before it looks for a formula, or a person would not see (issue 10 item 8):
// spaces of every width, no-break and zero-width spaces, joiners and direction marks, the BOM, and quotes.
const invisible = new Set([
  0x22, 0x27, 0xad, 0x34f, 0x61c, 0x115f, 0x1160, 0x17b4, 0x17b5, 0x180e, 0x3164, 0xfeff, 0xffa0, 0xff02,
  0xff07,
]);
const space = /\s/;
function isBlank(c: string): boolean {
  const cp = c.codePointAt(0) ?? 0;
  return (
    space.test(c) ||
    invisible.has(cp) ||
    (cp >= 0x200b && cp <= 0x200f) || // zero-width space, joiners, direction marks
    (cp >= 0x202a && cp <= 0x202e) || // direction embeddings and overrides
    (cp >= 0x2060 && cp <= 0x2064) || // word joiner, invisible operators
    (cp >= 0x206a && cp <= 0x206f)
  );
}

/**
 * Prefix `'` to a text cell a spreadsheet would evaluate: its first character that is not blank (see `isBlank`)
 * starts a formula, or it starts with a tab or line break. Looks only as far as that first visible character.
 */
export function neutralizeCell(value: string): string {
  if (value === '') return value;
  if (controlStart.has(value[0])) return `'${value}`;
  for (const c of value) {
    if (isBlank(c)) continue;
    return formulaChars.has(c) ? `'${value}` : value;
  }
  return value;
}

/** `name=value; name=value`, redacted values as `[redacted]`, from the stored JSON. */
export function formatModifiedProperties(json: string): string {
  let props: unknown;
  try {
    props = JSON.parse(json);
  } catch {
    return '';
  }
  if (!Array.isArray(props)) return '';
  return props
    .map((p: { name?: unknown; value?: unknown; redacted?: unknown }) => {
      const value = p.redacted
        ? '[redacted]'
        : typeof p.value === 'string'
          ? p.value
          : JSON.stringify(p.value ?? '');
      return `${String(p.name ?? '')}=${value}`;
    })
    .join('; ');
}

const text = (v: string | null): string => (v === null ? '' : neutralizeCell(v));

/** One operation as one CSV record, in `exportColumns` order. Pure. */
export function toExportRow(r: ExportSource): (string | number)[] {
  const [id, time, cycleId, action, operation, status, identityType, identity, externalId, targetId] = r;
  const [
    ,
    ,
    ,
    ,
    ,
    ,
    ,
    ,
    ,
    ,
    httpMethod,
    path,
    httpStatus,
    durationMs,
    errorCode,
    scimType,
    reason,
    modified,
  ] = r;
  return [
    id,
    new Date(time).toISOString(),
    cycleId ?? '',
    text(action),
    text(operation),
    text(status),
    text(identityType),
    text(identity),
    text(externalId),
    text(targetId),
    text(httpMethod),
    text(path),
    httpStatus ?? '',
    durationMs,
    text(errorCode),
    text(scimType),
    text(reason),
    modified === '[]' ? '' : text(formatModifiedProperties(modified)),
  ];
}

const needsQuotes = /[",\r\n]/;
const quotes = /"/g;

/**
 * One RFC 4180 record: CRLF-terminated; a field holding a comma, quote, CR or LF is quoted, quotes doubled.
 * Written here rather than with csv-stringify, which was 40% of the export's CPU time and kept it under
 * 100,000 rows/s; csv-stringify stays as the oracle this writer is tested against (export.test.ts).
 */
export function csvRecord(fields: readonly (string | number)[]): string {
  let line = '';
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i];
    const text = typeof f === 'number' ? String(f) : f;
    if (i > 0) line += ',';
    line += needsQuotes.test(text) ? `"${text.replace(quotes, '""')}"` : text;
  }
  return `${line}\r\n`;
}

export interface ExportOptions {
  /** rows per query: each is one short read, so a long export never holds the database */
  chunkRows?: number;
  /** rows per yielded CSV text: the caller yields to the event loop between slices (~5 ms of work each) */
  sliceRows?: number;
  /** the app's id, the first column of every row (config/apps.ts; the single app's is `default`) */
  app?: string;
}

/**
 * The export as CSV text: the header, then the operations oldest first, `sliceRows` per string. Keyset paging
 * by id (`id > last`), one query per `chunkRows` and no statement left open between them, so memory stays
 * flat and writers are never blocked. It is a snapshot of what existed when it started: rows recorded while it
 * streams (higher ids) are left for the next export.
 */
export function* exportCsv(
  db: Db,
  filter: OperationFilter,
  { chunkRows = 2_000, sliceRows = 500, app = SINGLE_APP_ID }: ExportOptions = {},
): Generator<string> {
  // The same first field on every row: written once (ids are url-safe, so never quoted, but kept honest).
  const appField = csvRecord([app]).slice(0, -2);
  const where = operationWhere(filter, filter.q ? matchSearch(db, filter.q) : undefined);
  // An export reads its whole window anyway, so the window's exact id range is always worth reading first.
  const window = timeWindowIds(db, filter, Number.POSITIVE_INFINITY);
  // Read before the first yield: the snapshot is what existed when the client started reading.
  const newest =
    (db.$client.prepare('select max(id) as id from operations').get() as { id: number | null }).id ?? 0;
  yield csvRecord(exportColumns);
  if (window === 'empty') return;
  const last = window ? Math.min(window.hi, newest) : newest;
  let after = window ? window.lo - 1 : 0;
  const page = db
    .select(exportFields)
    .from(operations)
    .where(and(...where, gt(operations.id, sql.placeholder('after')), lte(operations.id, last)))
    .orderBy(asc(operations.id))
    .limit(chunkRows)
    .prepare();
  while (true) {
    const rows = page.values({ after }) as ExportSource[];
    if (rows.length === 0) return;
    for (let i = 0; i < rows.length; i += sliceRows) {
      let text = '';
      const end = Math.min(rows.length, i + sliceRows);
      for (let j = i; j < end; j++) text += `${appField},${csvRecord(toExportRow(rows[j]))}`;
      yield text;
    }
    if (rows.length < chunkRows) return;
    after = rows[rows.length - 1][0];
  }
}

/** e.g. `tanium-sso-provisioning-log-20250101T000000Z-20250201T000000Z.csv`; no `from`: `start`. */
export function exportFilename(
  appName: string,
  filter: Pick<OperationFilter, 'from' | 'to'>,
  now: number,
): string {
  const slug =
    appName
      .normalize('NFKD')
      .replace(/[\u0300-\u036f]/g, '')
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 60) || 'scim-app';
  const stamp = (ms: number) => {
    const d = new Date(ms);
    return Number.isNaN(d.getTime())
      ? String(ms)
      : d
          .toISOString()
          .replace(/\.\d{3}/, '')
          .replace(/[-:]/g, '');
  };
  const from = filter.from === undefined ? 'start' : stamp(filter.from);
  return `${slug}-provisioning-log-${from}-${stamp(filter.to ?? now)}.csv`;
}
