import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  csvRecord,
  type ExportSource,
  exportColumns,
  exportFilename,
  formatModifiedProperties,
  neutralizeCell,
  toExportRow,
} from './export.js';

describe('neutralizeCell', () => {
  it.each([
    ['=HYPERLINK("x")', `'=HYPERLINK("x")`, 'a formula'],
    ['+1-555-0100', `'+1-555-0100`, 'a phone number a spreadsheet would add up'],
    ['-2+3', `'-2+3`, 'a leading minus'],
    ['@SUM(A1)', `'@SUM(A1)`, 'an at-function'],
    ['\tcmd', `'\tcmd`, 'a leading tab'],
    ['\rcmd', `'\rcmd`, 'a leading carriage return'],
    ['＝1+1', `'＝1+1`, 'a full-width equals sign (normalised by some spreadsheets)'],
    ['ada@example.com', 'ada@example.com', 'an @ inside is harmless'],
    ['a=b', 'a=b', 'an = inside is harmless'],
    ['', '', 'empty stays empty'],
    [' =1', `' =1`, 'a leading space'],
    ['\u00A0=1', `'\u00A0=1`, 'a leading no-break space'],
    ['\u200B\u200C\u200D+1', `'\u200B\u200C\u200D+1`, 'leading zero-width characters'],
    ['\uFEFF-1', `'\uFEFF-1`, 'a leading byte order mark'],
    ['"@SUM(A1)', `'"@SUM(A1)`, 'a leading quote'],
    [" \t \"\u2060\u3000=cmd|'/C calc'!A0", `' \t "\u2060\u3000=cmd|'/C calc'!A0`, 'a mix of blanks'],
    ['\ncmd', `'\ncmd`, 'a leading line feed'],
    ['   ', '   ', 'only blanks: nothing to run'],
    [' ada', ' ada', 'blanks then text'],
    ['\u00A0ada=1', '\u00A0ada=1', 'a formula sign after the first visible character'],
  ])('%j → %j (%s)', (input, expected) => {
    expect(neutralizeCell(input)).toBe(expected);
  });
});

describe('formatModifiedProperties', () => {
  it.each([
    ['[]', '', 'nothing modified'],
    ['[{"name":"displayName","value":"Ada King"}]', 'displayName=Ada King', 'one property'],
    [
      '[{"name":"active","value":"False"},{"name":"password","value":"[redacted]","redacted":true}]',
      'active=False; password=[redacted]',
      'several, redacted value marked',
    ],
    [
      '[{"name":"password","value":"leaked","redacted":true}]',
      'password=[redacted]',
      'redacted wins over a stored value',
    ],
    ['[{"name":"manager","value":{"value":"u-7"}}]', 'manager={"value":"u-7"}', 'a non-text value as JSON'],
    ['not json', '', 'a corrupt column does not break the export'],
  ])('%s → %j (%s)', (json, expected) => {
    expect(formatModifiedProperties(json)).toBe(expected);
  });
});

describe('toExportRow', () => {
  const row: ExportSource = [
    7,
    Date.UTC(2025, 0, 15, 9, 0, 1, 250),
    3,
    'create',
    'create',
    'failure',
    'User',
    '=HYPERLINK("x")',
    '-ext',
    null,
    'POST',
    '/scim/v2/Users',
    409,
    42,
    'EntryConflict',
    'uniqueness',
    'userName =HYPERLINK("x") is already in use',
    '[{"name":"userName","value":"=HYPERLINK(\\"x\\")"},{"name":"password","value":"[redacted]","redacted":true}]',
  ];

  it('maps every column in header order, nulls to empty cells', () => {
    expect(toExportRow(row)).toEqual([
      7,
      '2025-01-15T09:00:01.250Z',
      3,
      'create',
      'create',
      'failure',
      'User',
      `'=HYPERLINK("x")`,
      `'-ext`,
      '',
      'POST',
      '/scim/v2/Users',
      409,
      42,
      'EntryConflict',
      'uniqueness',
      'userName =HYPERLINK("x") is already in use',
      'userName==HYPERLINK("x"); password=[redacted]',
    ]);
    // every column but the first, the app's id, which exportCsv writes once for all rows
    expect(toExportRow(row)).toHaveLength(exportColumns.length - 1);
    expect(exportColumns[0]).toBe('app');
  });

  it('leaves cycle and HTTP status empty when unknown', () => {
    const r = toExportRow([
      1,
      0,
      null,
      'other',
      'lookup',
      'failure',
      null,
      null,
      null,
      null,
      'GET',
      '/x',
      null,
      5,
      'ClientAborted',
      null,
      null,
      '[]',
    ]);
    expect(r[2]).toBe('');
    expect(r[12]).toBe('');
    expect(r[17]).toBe('');
  });
});

describe('exportFilename', () => {
  const now = Date.UTC(2025, 1, 1, 12, 30, 0);
  it.each<[string, { from?: number; to?: number }, string, string]>([
    ['Tanium SSO', {}, 'tanium-sso-provisioning-log-start-20250201T123000Z.csv', 'no range: start to now'],
    [
      'Tanium SSO',
      { from: Date.UTC(2025, 0, 1), to: Date.UTC(2025, 0, 31, 23, 59, 59) },
      'tanium-sso-provisioning-log-20250101T000000Z-20250131T235959Z.csv',
      'both ends',
    ],
    [
      'Ünïcode App / "Prod"',
      {},
      'unicode-app-prod-provisioning-log-start-20250201T123000Z.csv',
      'accents folded, quotes and slashes dropped',
    ],
    ['***', {}, 'scim-app-provisioning-log-start-20250201T123000Z.csv', 'nothing usable: a default'],
  ])('%s %j → %s (%s)', (app, range, expected) => {
    expect(exportFilename(app, range, now)).toBe(expected);
  });
});

describe('csvRecord', () => {
  // csv-stringify is the oracle: our hot-path writer must produce exactly its RFC 4180 output.
  it('matches csv-stringify for any fields, and csv-parse reads them back', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.string({ unit: 'binary' }),
            fc.integer(),
            fc.constantFrom('', '"', ',', '\r', '\n', '\r\n', 'a"b,c'),
          ),
          {
            minLength: 1,
            maxLength: 20,
          },
        ),
        (fields) => {
          const ours = csvRecord(fields);
          expect(ours).toBe(
            stringify([fields], { record_delimiter: 'windows', quote_record_delimiter: true }),
          );
          expect(parse(ours, { relax_column_count: true })).toEqual([fields.map(String)]);
        },
      ),
      { numRuns: 2_000 },
    );
  });
});

describe('neutralized cells through the writer', () => {
  const blanks = [' ', '\t', '\u00A0', '\u200B', '\u200C', '\u200D', '\uFEFF', '\u2060', '\u3000', '"', "'"];
  const triggers = ['=', '+', '-', '@', '\uFF1D'];
  // The oracle stays csv-stringify: neutralised cells, written by our writer, must be exactly its output, and a
  // spreadsheet reading them back finds no cell that starts a formula after its blanks.
  it('no cell read back starts a formula after leading blanks, and the writer still matches csv-stringify', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.array(fc.constantFrom(...blanks), { maxLength: 4 }),
            fc.constantFrom(...triggers, 'a', '1', ''),
            fc.string({ maxLength: 8 }),
          ),
          { minLength: 1, maxLength: 8 },
        ),
        (parts) => {
          const cells = parts.map(([b, t, rest]) => neutralizeCell(`${b.join('')}${t}${rest}`));
          const ours = csvRecord(cells);
          expect(ours).toBe(
            stringify([cells], { record_delimiter: 'windows', quote_record_delimiter: true }),
          );
          for (const cell of parse(ours, { relax_column_count: true })[0] as string[]) {
            const first = [...cell].find((c) => !blanks.includes(c) && c !== '\r' && c !== '\n');
            if (cell.startsWith("'")) continue;
            expect(triggers).not.toContain(first);
            expect(cell[0] === '\t' || cell[0] === '\r').toBe(false);
          }
        },
      ),
      { numRuns: 1_000 },
    );
  });
});
