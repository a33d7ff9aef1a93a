import { type EvaluationReport, routedQueue, runEvaluation } from '../../../alerts/evaluation.js';
import { createOpenIncidents } from '../../../alerts/open-incidents.js';
import type { Incident, Silence } from '../../../alerts/types.js';
import type { Config } from '../../../config.js';
import type { DetectionInput } from '../../../detect/types.js';
import type { EmailContext } from '../../../notify/email.js';
import type { Routing } from '../../../notify/routing.js';
import { pgDatabase } from '../db.js';
import { inTransaction, type Pool } from '../pool.js';
import { loadOpenIncidents } from '../queries/incidents.js';
import { prefetch, reserveIncidentIds } from './prefetch.js';
import { createEvaluationWorkspace, OutOfIdsError, type Writes } from './workspace.js';
import { claimEpoch, writeEvaluation } from './write-back.js';

// The alert evaluation on PostgreSQL, run by the lease holder only: alerts/evaluation.ts's code, unchanged, over
// a workspace (workspace.ts) filled beforehand (prefetch.ts), its writes committed in one transaction fenced by
// the leader's epoch (write-back.ts). The open incidents stay in memory between evaluations as on SQLite.

export interface PgEvaluationOptions {
  pool: Pool;
  rules: Config['rules'];
  /** this leader's epoch, from takeAlertEpoch (taken before this evaluation's first load) */
  epoch: string;
  routing: Routing;
  emailContext: () => EmailContext;
  /** detection's input at `now`, with the active silences applied */
  input(now: number, silences: Silence[]): DetectionInput;
  /** ids reserved for new incidents at a time (default 4); more are taken when an evaluation needs them */
  reserveIds?: number;
}

export interface PgEvaluation {
  /**
   * One evaluation, committed in one transaction; rejects with FencedError when a newer leader took over. One at a
   * time: the caller waits for each before the next (as SQLite's synchronous evaluations are).
   */
  evaluate(now: number, notify: boolean): Promise<EvaluationReport>;
  open(): readonly Incident[];
  /** reads the open incidents from their rows again */
  reload(): Promise<void>;
}

/**
 * The leader's evaluation. Create it after takeAlertEpoch: its first evaluation (or `reload`) loads the open
 * incidents, which must come after the epoch was taken, so no older leader's write-back can follow that load.
 */
export function createPgEvaluation(options: PgEvaluationOptions): PgEvaluation {
  const { pool, rules, epoch, input } = options;
  const db = pgDatabase(pool);
  let rows: Incident[] = [];
  const incidents = createOpenIncidents(() => rows);
  const deps = { rules, incidents, input, queue: routedQueue(options.routing, options.emailContext) };
  /** reserved incident ids nobody has used yet (kept across evaluations) */
  let spare: number[] = [];
  let loaded = false;

  async function reload(): Promise<void> {
    loaded = false;
    rows = await loadOpenIncidents(db);
    incidents.reload();
    loaded = true;
  }

  /** One try: the report and writes, or OutOfIdsError (in-memory incidents then dirty: reload before again). */
  async function decide(now: number, notify: boolean) {
    const open = incidents.list().map((i) => i.id as number);
    const read = await prefetch(db, open, now);
    refreshAcknowledgements(incidents, read.rows);
    const workspace = createEvaluationWorkspace({ ...read, ids: spare });
    const report = runEvaluation(deps, workspace.store, now, notify);
    return { report, writes: workspace.writes(), used: workspace.usedIds() };
  }

  async function evaluate(now: number, notify: boolean): Promise<EvaluationReport> {
    try {
      if (!loaded) await reload();
      for (let want = options.reserveIds ?? 4; ; want *= 2) {
        if (spare.length < want) spare = [...spare, ...(await reserveIncidentIds(db, want - spare.length))];
        let decided: Awaited<ReturnType<typeof decide>>;
        try {
          decided = await decide(now, notify);
        } catch (err) {
          if (!(err instanceof OutOfIdsError)) throw err;
          await reload();
          continue;
        }
        // Handed out whatever happens next: a commit whose answer was lost may have used them.
        spare = spare.slice(decided.used);
        await commit(pool, epoch, decided.writes);
        return decided.report;
      }
    } catch (err) {
      // The in-memory incidents may be ahead of the rows (nothing was committed): the rows are the truth.
      await reload().catch(() => {});
      throw err;
    }
  }

  return { evaluate, open: () => incidents.list(), reload };
}

/** The write-back, in one transaction: the epoch's fence first, then the evaluation's writes. */
async function commit(pool: Pool, epoch: string, writes: Writes): Promise<void> {
  await inTransaction(pool, async (client) => {
    await claimEpoch(client, epoch);
    await writeEvaluation(client, writes);
  });
}

/**
 * Any replica's API may have acknowledged an open incident since the last evaluation: take its acknowledgement
 * from the row, as written (so its fingerprint does not call for an UPDATE, which would not write it anyway).
 */
function refreshAcknowledgements(
  incidents: ReturnType<typeof createOpenIncidents>,
  rows: ReadonlyMap<number, Incident>,
): void {
  for (const current of incidents.list()) {
    const row = current.id === null ? undefined : rows.get(current.id);
    if (!row || current.id === null) continue;
    if (
      row.acknowledgedAt === current.acknowledgedAt &&
      row.acknowledgedBy === current.acknowledgedBy &&
      row.ackComment === current.ackComment
    )
      continue;
    current.acknowledgedAt = row.acknowledgedAt;
    current.acknowledgedBy = row.acknowledgedBy;
    current.ackComment = row.ackComment;
    current.updatedAt = row.updatedAt;
    incidents.written({ ...current, id: current.id });
  }
}
