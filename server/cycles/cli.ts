import { existsSync } from 'node:fs';
import { ConfigError, configHelp, loadConfig } from '../config.js';
import { openDatabase } from '../store/db.js';
import { rebuildRollups } from './rebuild.js';

const usage = `scimtap rebuild — recompute cycles, identities and memberships from the recorded operations

Usage:
  scimtap rebuild [--db FILE] [options]

Reads every operation oldest first and replays it through the cycle stage, as live recording does, with the
thresholds of the configuration (rules.cycleGapMinutes, SCIMTAP_CYCLE_INTERVAL_MIN, SCIMTAP_EXPECTED_OBJECTS).
Use it after changing those thresholds or upgrading scimtap. Stop the running scimtap first: it keeps the
running cycle in memory and would not see the rebuilt rows.

${configHelp}
`;

/** `scimtap rebuild`: exit status 0 when rebuilt, 2 on a configuration problem or a missing database. */
export async function runRebuild(
  argv: string[],
  out = process.stdout,
  err = process.stderr,
): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    out.write(usage);
    return 0;
  }
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(process.env, argv);
  } catch (e) {
    if (e instanceof ConfigError) {
      err.write(`scimtap rebuild: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  if (config.store?.kind === 'postgres') {
    // On PostgreSQL the leader derives; a second process rewriting its tables under it would race it.
    err.write(
      `scimtap rebuild: SCIMTAP_DB (${config.db}): rebuild works on a SQLite file; on PostgreSQL the replica that leads derives\n`,
    );
    return 1;
  }
  if (config.db !== ':memory:' && !existsSync(config.db)) {
    err.write(`scimtap rebuild: no database at ${config.db} (set SCIMTAP_DB or --db)\n`);
    return 2;
  }
  const db = openDatabase(config.db, { busyTimeoutMs: 5_000 });
  try {
    const started = Date.now();
    let lastReport = started;
    const result = rebuildRollups(db, config, {
      onProgress(done) {
        if (Date.now() - lastReport < 2_000) return;
        lastReport = Date.now();
        err.write(`scimtap rebuild: ${done.toLocaleString('en-US')} operations...\n`);
      },
    });
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    out.write(
      `rebuilt from ${result.operations} operations in ${seconds} s: ${result.cycles} cycles, ` +
        `${result.identities} identities, ${result.memberships} memberships\n`,
    );
    return 0;
  } finally {
    db.$client.close();
  }
}
