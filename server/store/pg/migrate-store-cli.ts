import { parseArgs } from 'node:util';
import { isPostgresUrl, postgresUrlProblem, redactUrl } from '../../config/store.js';
import { fmt, migrateStore, Refusal, scrub } from './migrate-store.js';

export const migrateStoreUsage = `scimtap migrate-store — copy a scimtap SQLite database into PostgreSQL

Usage:
  scimtap migrate-store --from FILE --to URL [--batch-size N] [--force]

  --from FILE       the SQLite database scimtap recorded into (SCIMTAP_DB); opened read-only
  --to URL          postgres://user:password@host:5432/database (or postgresql://; sslmode=... for TLS)
  --batch-size N    rows per transaction (default 5000)
  --force           the target already holds scimtap data that no earlier run of this copy wrote: empty
                    scimtap's tables there (their rows are lost) and copy into them

Applies scimtap's PostgreSQL migrations to the target, then copies every table (operations, bodies, search
terms, cycles, identities, memberships, incidents, silences, the outbox and its delivery log, meta) in key
order, keeping every id, and moves each id sequence past the copied rows. Progress goes to stderr.

Stop scimtap first. The copy is of the database as it was when migrate-store started: rows recorded later,
and later changes to cycles, identities, incidents and the outbox, are not copied.

Resumable: each batch commits together with a progress row in the target's meta table. If the copy stops
(killed, server restarted, network cut), run the same command again: it continues after the last committed
batch and never copies a row twice. Running it again after it finished copies nothing.

Exit status: 0 copied; 2 a problem with --from, --to or the target (nothing copied); 1 the copy failed part
way (run the same command again to resume).

scimtap itself does not run on PostgreSQL yet (issue 13): the copy is for the coming release.
`;

/** `scimtap migrate-store`: exit status 0 when copied, 2 when refused before copying, 1 when the copy failed. */
export async function runMigrateStore(
  argv: string[],
  out: { write(s: string): unknown } = process.stdout,
  err: { write(s: string): unknown } = process.stderr,
): Promise<number> {
  const say = (line: string) => err.write(`scimtap migrate-store: ${line}\n`);
  let values: { from?: string; to?: string; 'batch-size'?: string; force?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        from: { type: 'string' },
        to: { type: 'string' },
        'batch-size': { type: 'string' },
        force: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    // parseArgs quotes the offending argument, which may be a URL with its password: mask them all.
    say(argv.reduce((m, a) => (isPostgresUrl(a) ? scrub(m, a) : m), (e as Error).message));
    say('run scimtap migrate-store --help for the options');
    return 2;
  }
  if (values.help) {
    out.write(migrateStoreUsage);
    return 0;
  }
  const problems: string[] = [];
  const { from, to } = values;
  if (!from) problems.push('--from FILE is required: the SQLite database to copy');
  if (!to) problems.push('--to URL is required: postgres://user:password@host:5432/database');
  else if (!isPostgresUrl(to)) {
    problems.push(
      `--to (${redactUrl(to)}): not a PostgreSQL URL; expected postgres://user:password@host:5432/database`,
    );
  } else {
    const problem = postgresUrlProblem(to);
    if (problem) problems.push(`--to (${redactUrl(to)}): ${problem}`);
  }
  const batchSize = values['batch-size'] === undefined ? 5_000 : Number(values['batch-size']);
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 100_000) {
    problems.push(`--batch-size (${values['batch-size']}): a whole number of rows from 1 to 100000`);
  }
  if (problems.length > 0 || !from || !to) {
    for (const p of problems) say(p);
    return 2;
  }
  say(`copying ${from} into ${redactUrl(to)}, ${fmt(batchSize)} rows per transaction`);
  try {
    const summary = await migrateStore({ from, to, batchSize, force: values.force, report: say });
    const rows = summary.tables.reduce((n, t) => n + t.rows, 0);
    const copiedNow = summary.tables.reduce((n, t) => n + t.copiedNow, 0);
    out.write(
      `copied ${fmt(rows)} rows in ${summary.tables.length} tables into ${redactUrl(to)} ` +
        `(${fmt(copiedNow)} in this run${summary.resumed ? ', resuming an earlier one' : ''}, ${summary.seconds.toFixed(1)} s)\n`,
    );
    for (const t of summary.tables) out.write(`  ${t.table}: ${fmt(t.rows)}\n`);
    if (summary.nulReplaced > 0) {
      out.write(
        `  ${fmt(summary.nulReplaced)} values held NUL characters, which PostgreSQL text cannot store: replaced with U+FFFD\n`,
      );
    }
    return 0;
  } catch (e) {
    if (e instanceof Refusal) {
      say(e.message);
      return 2;
    }
    say(`the copy stopped: ${scrub((e as Error).message, to)}`);
    say('run the same command again to continue where it stopped');
    return 1;
  }
}
