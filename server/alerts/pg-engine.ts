import type { ObservedOperation } from '../detect/tracker.js';
import type { DetectionInput } from '../detect/types.js';
import { createBurstRunner } from '../jobs/burst.js';
import type { EmailContext } from '../notify/email.js';
import type { Outbox } from '../notify/outbox.js';
import type { Routing } from '../notify/routing.js';
import type { Sender } from '../notify/sender.js';
import type { StoredOperation } from '../store/ingest.js';
import { pgAcknowledge, pgQueueTest } from '../store/pg/alerts/acknowledge.js';
import { createPgEvaluation, type PgEvaluation } from '../store/pg/alerts/evaluation.js';
import { FencedError, takeAlertEpoch } from '../store/pg/alerts/write-back.js';
import { pgDatabase } from '../store/pg/db.js';
import { pgOutboxStore } from '../store/pg/outbox.js';
import type { Pool } from '../store/pg/pool.js';
import { listIncidents } from '../store/pg/queries/incidents.js';
import {
  type AlertEngineOptions,
  createDelivery,
  type EvaluationReport,
  emailContextOf,
  logTransitions,
  withoutSilencedStuck,
} from './engine.js';
import { createPgDetection, type PgDetection } from './pg-detection.js';
import type { Incident } from './types.js';

// The alert engine on PostgreSQL (issue 13). Every replica has one; what it does depends on the lead:
// - the leader (the replica whose consumer holds the lease) detects and evaluates: when it gains the lead it takes
//   a new alert epoch, then rebuilds detection and loads the open incidents from what is committed, before its
//   consumer derives anything (PgConsumerOptions.onLead). Derived batches reach `observe`, and evaluations follow
//   the traffic as on SQLite (a burst runner) and a 15 s tick. Each evaluation commits only while its epoch is
//   the newest (store/pg/alerts/write-back.ts), so a deposed leader's last evaluation cannot land after the next
//   leader has loaded the incidents: one incident stays one incident, and one decision one email.
// - the leader alone delivers from the outbox. Every row is claimed before it is sent (FOR UPDATE SKIP LOCKED), so
//   a deposed leader finishing a send and the new leader never take the same row.
// - every replica acknowledges and queues tests (the leader sends them: at once when it queued them, else within
//   its 2 s poll), and reads the firing incidents from the database.

export type PgAlertEngineOptions = Omit<AlertEngineOptions, 'db' | 'scheduler' | 'turn'> & {
  pool: Pool;
  sender?: Sender | null;
};

export interface PgAlertEngine {
  /** gained the lead: rebuild detection and the open incidents (before the consumer derives) */
  lead(): Promise<void>;
  /** lost the lead: forget the term at once (its evaluation in flight is fenced) */
  unlead(): void;
  /** whether this replica evaluates now: it leads, and detection and the incidents are loaded */
  evaluating(): boolean;
  /** a derived batch's operations, in log order (leader only) */
  observe(ops: StoredOperation[]): void;
  /** evaluate now if this replica leads; null otherwise */
  evaluate(now?: number, options?: { notify?: boolean }): Promise<EvaluationReport | null>;
  /** evaluate (when leading), then deliver what is due (every replica) */
  tick(): Promise<EvaluationReport | null>;
  firingIncidents(): Promise<Incident[]>;
  /** firing incidents as last read (for /metrics, which reads synchronously) */
  firingCount(): number;
  acknowledge(id: number, by: string, comment: string | null): Promise<Incident | null>;
  queueTest(receiver: string, requestedBy: string | null): Promise<number>;
  schedule(): void;
  routing: Routing;
  outbox: Outbox;
  emailContext(): EmailContext;
  start(): void;
  stop(): Promise<void>;
}

interface Term {
  detection: PgDetection;
  evaluation: PgEvaluation;
}

/** Only the leader sends: on a replica that does not lead, delivery and kicks do nothing. */
function leaderOnly(outbox: Outbox, leading: () => boolean): Outbox {
  return {
    get configured() {
      return outbox.configured;
    },
    deliverDue: () =>
      leading() ? outbox.deliverDue() : Promise.resolve({ sent: 0, retrying: 0, failed: 0, superseded: 0 }),
    kick() {
      if (leading()) outbox.kick();
    },
    close: () => outbox.close(),
  };
}

/** One evaluation of a term; null when a newer leader took the epoch (this term is over, whatever the lease says). */
async function evaluateTerm(
  t: Term,
  now: number,
  notify: boolean,
  logger: PgAlertEngineOptions['logger'],
): Promise<EvaluationReport | null> {
  try {
    const report = await t.evaluation.evaluate(now, notify);
    logTransitions(logger, report);
    return report;
  } catch (err) {
    if (!(err instanceof FencedError)) throw err;
    logger.warn('alerts: a newer leader evaluates; this replica stops');
    return null;
  }
}

/**
 * A term of leadership: a new epoch first (a deposed leader's evaluation still in flight is refused from now on),
 * then detection rebuilt and the open incidents loaded from what is committed. Each evaluation fetches the stuck
 * identities first (async), then runs the synchronous evaluation over them.
 */
async function openTerm(
  options: PgAlertEngineOptions,
  routing: Routing,
  emailContext: () => EmailContext,
): Promise<Term> {
  const { pool, config, recorderStats } = options;
  const epoch = await takeAlertEpoch(pool);
  const detection = await createPgDetection({
    pool,
    rules: config.rules,
    cycleIntervalMs: config.cycleIntervalMin * 60_000,
    replayLimit: options.replayLimit,
  });
  let input: DetectionInput | null = null;
  const evaluation = createPgEvaluation({
    pool,
    rules: config.rules,
    epoch,
    routing,
    emailContext,
    input: (_now, silences) => withoutSilencedStuck(input!, silences),
  });
  await evaluation.reload();
  return {
    detection,
    evaluation: {
      ...evaluation,
      async evaluate(now, notify) {
        input = await detection.input(now, recorderStats());
        return evaluation.evaluate(now, notify);
      },
    },
  };
}

export function createPgAlertEngine(options: PgAlertEngineOptions): PgAlertEngine {
  const { pool, clock, logger } = options;
  const db = pgDatabase(pool);
  const delivery = createDelivery(options, pgOutboxStore(pool));
  const routing = delivery.routing;
  const outbox = leaderOnly(delivery.outbox, () => term !== null);
  const emailContext = () => emailContextOf(options);
  let term: Term | null = null;
  /** bumped by every lead and unlead: a term built for an older generation is dropped */
  let generation = 0;
  let started = false;
  let stopped = false;
  let firing = 0;
  // One evaluation at a time: the term's in-memory incidents are its alone.
  let chain: Promise<unknown> = Promise.resolve();

  async function lead(): Promise<void> {
    const mine = ++generation;
    term = null;
    const opened = await openTerm(options, routing, emailContext);
    if (mine !== generation) return;
    term = opened;
    logger.info('alerts: this replica evaluates (detection restored, open incidents loaded)');
  }

  function evaluate(now = clock(), { notify = true }: { notify?: boolean } = {}) {
    const run = chain.then(async (): Promise<EvaluationReport | null> => {
      const t = term;
      if (!t || stopped) return null;
      const report = await evaluateTerm(t, now, notify, logger);
      if (report === null && term === t) term = null;
      if (report && report.emails.length > 0) outbox.kick();
      if (report) firing = t.evaluation.open().filter((i) => i.state === 'firing').length;
      return report;
    });
    chain = run.catch(() => {});
    return run;
  }

  const burst = createBurstRunner(
    {
      during: () => void evaluate(clock(), { notify: false }).catch(onError),
      after: () => void evaluate().catch(onError),
    },
    { duringMs: 500, quietMs: 500, maxWaitMs: 10_000, onError },
  );
  function onError(err: unknown) {
    logger.error({ err }, 'alerts: evaluation failed');
  }
  const schedule = () => {
    if (started && !stopped && term) burst.request();
  };

  return {
    lead,
    evaluating: () => term !== null,
    unlead() {
      generation++;
      term = null;
    },
    observe(ops) {
      const t = term;
      if (!t) return;
      try {
        for (const op of ops) t.detection.observe(op as ObservedOperation);
        schedule();
      } catch (err) {
        logger.error({ err }, 'alerts: detection could not follow a batch');
      }
    },
    evaluate,
    async tick() {
      const report = await evaluate();
      await outbox.deliverDue();
      return report;
    },
    async firingIncidents() {
      const rows = await listIncidents(db, { state: 'firing', limit: 1_000 });
      firing = rows.length;
      return rows;
    },
    firingCount: () => firing,
    async acknowledge(id, by, comment) {
      const row = await pgAcknowledge(pool, routing, { id, by, comment, now: clock(), ctx: emailContext() });
      outbox.kick();
      return row;
    },
    async queueTest(receiver, requestedBy) {
      const id = await pgQueueTest(pool, routing, receiver, emailContext(), clock(), requestedBy);
      outbox.kick();
      return id;
    },
    schedule,
    routing,
    outbox,
    emailContext,
    start() {
      started = true;
    },
    async stop() {
      stopped = true;
      burst.stop();
      await chain;
      await outbox.close();
    },
  };
}
