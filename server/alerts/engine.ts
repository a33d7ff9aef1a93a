import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { DetectionInput } from '../detect/types.js';
import type { EmailContext } from '../notify/email.js';
import { createOutbox, type Outbox } from '../notify/outbox.js';
import type { OutboxStore } from '../notify/outbox-store.js';
import { createReceivers } from '../notify/receivers/index.js';
import { createRouting, type Routing } from '../notify/routing.js';
import { createSmtpSender, type Sender } from '../notify/sender.js';
import type { Db } from '../store/db.js';
import type { IngestStage } from '../store/ingest.js';
import { acknowledgeIncident, loadOpenIncidents } from '../store/queries/incidents.js';
import { sqliteOutboxStore } from '../store/queries/outbox.js';
import type { RecorderStats } from '../store/recorder.js';
import { silenceMatchesIdentity } from './decide.js';
import { createDetection } from './detection.js';
import { createEvaluation, type EvaluationReport, routedQueue } from './evaluation.js';
import { createOpenIncidents } from './open-incidents.js';
import { sqliteEvaluationStore } from './ports.js';
import type { Incident, Silence } from './types.js';

export interface AlertEngineOptions {
  db: Db;
  config: Pick<
    Config,
    'rules' | 'cycleIntervalMin' | 'appName' | 'notifyTo' | 'smtpUrl' | 'mailFrom' | 'adminToken'
  > &
    Partial<Pick<Config, 'receivers'>>;
  clock: () => number;
  logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  recorderStats(): RecorderStats;
  /** dashboard base URL for links in emails (known once the admin listener is bound); an app's pages' base */
  baseUrl(): string;
  /**
   * With several apps, the admin API's URL and this app's id: the silence command in emails posts to
   * `<url>/silences?app=<id>` (absent: `<baseUrl>/api/silences`).
   */
  api?: () => { url: string; app: string };
  /** the upstream's base URL: its path lets advice tell a doubled /scim/v2 from a missing one */
  upstream?: string;
  /** overrides the nodemailer sender built from config.smtpUrl (null: no SMTP) */
  sender?: Sender | null;
  /**
   * Asks for an evaluation soon, after a committed batch or a silence change. The engine starts no timer: main.ts
   * gives it the jobs' burst runner (server/jobs/burst.ts), which evaluates without notifying while a burst goes
   * on and with notifying once it is over. Absent, the rules run only when `evaluate` or `tick` is called.
   */
  scheduler?: { request(): void };
  /** operations replayed at start to rebuild the windows and recent cycles */
  replayLimit?: number;
  /**
   * The write turn shared with the log writer thread (store/log-thread.ts): an evaluation that writes waits for
   * the writer's transaction to end (one batch) instead of failing on SQLite's lock.
   */
  turn?: { acquire(): void; tryAcquire(): boolean; release(): void };
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** how long a webhook, Slack, Teams, PagerDuty or Alertmanager request may take */
  receiverTimeoutMs?: number;
}

export type { EvaluationReport };

export interface AlertEngine {
  /** feeds detection from committed operations and schedules an evaluation */
  stage: IngestStage;
  /**
   * Evaluate the rules at `now`; sync: one transaction for every incident change and the emails they cause.
   * `notify: false` while a burst of traffic is still arriving: incidents follow the traffic, and what is said
   * about them waits for the evaluation after the burst, which counts all of it.
   */
  evaluate(now?: number, options?: { notify?: boolean }): EvaluationReport;
  /**
   * Evaluate now unless the log writer thread is mid-transaction; then ask the scheduler again and return null.
   * What runs after committed batches, on the proxy's thread, which must never wait for the writer.
   */
  evaluateIfFree(options?: { notify?: boolean }): EvaluationReport | null;
  /** evaluate, then deliver whatever is due (what the jobs do, for tests and the CLI) */
  tick(): Promise<EvaluationReport>;
  firingIncidents(): Incident[];
  openIncidents(): Incident[];
  acknowledge(id: number, by: string, comment: string | null): Incident | null;
  /** a test email through the outbox; returns its row id */
  queueTestEmail(requestedBy: string | null): number;
  /** a test to one receiver by name (`email`, `slack` ...); throws UnknownReceiverError; returns its row id */
  queueTest(receiver: string, requestedBy: string | null): number;
  /** the receivers and their routes, secrets masked */
  routing: Routing;
  /** re-evaluate soon (after a silence changes) */
  schedule(): void;
  outbox: Outbox;
  emailContext(): EmailContext;
  /** turn on the requests for evaluation after committed batches (the periodic tick is a job: alerts/jobs.ts) */
  start(): void;
  stop(): Promise<void>;
}

/**
 * The alerting stage (ARCHITECTURE §6): detection input kept incrementally from committed operations, rules
 * evaluated after each batch (debounced) and on the tick, incidents persisted, emails written to the outbox in
 * the same transaction and delivered after it.
 */
export function createAlertEngine(options: AlertEngineOptions): AlertEngine {
  const { db, config, clock, logger, recorderStats } = options;
  const rules = config.rules;
  const { routing, outbox } = createDelivery(options, sqliteOutboxStore(db));
  const incidents = createOpenIncidents(() => loadOpenIncidents(db));
  const store = sqliteEvaluationStore(db);
  const detection = createDetection({
    db,
    rules,
    cycleIntervalMs: config.cycleIntervalMin * 60_000,
    replayLimit: options.replayLimit,
  });

  let started = false;
  let stopped = false;

  const detectionInput = (now: number, silences: Silence[]): DetectionInput =>
    withoutSilencedStuck(detection.input(now, recorderStats()), silences);

  const emailContext = (): EmailContext => emailContextOf(options);

  const queue = routedQueue(routing, emailContext);
  const evaluateOnce = createEvaluation({ db, rules, incidents, input: detectionInput, queue });

  function evaluate(now = clock(), { notify = true }: { notify?: boolean } = {}): EvaluationReport {
    options.turn?.acquire();
    return evaluateHoldingTurn(now, notify);
  }

  function evaluateIfFree({ notify = true }: { notify?: boolean } = {}): EvaluationReport | null {
    if (options.turn && !options.turn.tryAcquire()) {
      schedule();
      return null;
    }
    return evaluateHoldingTurn(clock(), notify);
  }

  /** Called with the turn taken (or no turn at all); releases it. */
  function evaluateHoldingTurn(now: number, notify: boolean): EvaluationReport {
    try {
      let report: EvaluationReport;
      try {
        report = evaluateOnce(now, notify);
      } finally {
        options.turn?.release();
      }
      logTransitions(logger, report);
      if (report.emails.length > 0) outbox.kick();
      return report;
    } catch (err) {
      // The in-memory incidents may be ahead of the rolled-back rows: reload them.
      incidents.reload();
      throw err;
    }
  }

  async function tick(): Promise<EvaluationReport> {
    const report = evaluate();
    await outbox.deliverDue();
    return report;
  }

  function schedule(): void {
    if (started && !stopped) options.scheduler?.request();
  }

  const stage: IngestStage = {
    afterCommit(ops) {
      // Never throw here: the recorder would take the committed batch for a failed one and write it again.
      try {
        for (const op of ops) detection.observe(op);
        schedule();
      } catch (err) {
        logger.error({ err }, 'alerts: detection could not follow a batch');
      }
    },
  };

  const engine: AlertEngine = {
    stage,
    evaluate,
    evaluateIfFree,
    tick,
    firingIncidents: () => incidents.list().filter((i) => i.state === 'firing'),
    openIncidents: () => [...incidents.list()],
    acknowledge: (id, by, comment) =>
      acknowledgeAndTell({ db, incidents, routing, outbox, emailContext }, id, by, comment, clock()),
    queueTestEmail(requestedBy) {
      return engine.queueTest('email', requestedBy);
    },
    queueTest(receiver, requestedBy) {
      const id = routing.queueTest(store, receiver, emailContext(), clock(), requestedBy);
      outbox.kick();
      return id;
    },
    routing,
    schedule,
    outbox,
    emailContext,
    start() {
      started = true;
    },
    async stop() {
      stopped = true;
      await outbox.close();
    },
  };
  return engine;
}

/** A silence naming one identity takes it out of the grouped stuckObject finding, leaving the others watched. */
export function withoutSilencedStuck(input: DetectionInput, silences: Silence[]): DetectionInput {
  const stuckSilences = silences.filter((s) => s.rule === 'stuckObject' && s.identity !== null);
  if (stuckSilences.length > 0) {
    input.stuck = input.stuck.filter((i) => !stuckSilences.some((s) => silenceMatchesIdentity(s, i)));
  }
  return input;
}

/** On-call reads the log too: every transition at warn (resolved, warnings) or error (critical firing). */
export function logTransitions(logger: AlertEngineOptions['logger'], report: EvaluationReport): void {
  for (const t of report.transitions) {
    const level = t.state === 'firing' && t.severity === 'critical' ? 'error' : 'warn';
    logger[level]({ incident: t }, `incident ${t.state}: ${t.rule} (${t.severity}): ${t.summary}`);
  }
}

/** What an email says of where things are: the app's name, its dashboard, its API, the upstream's path. */
export function emailContextOf(
  options: Pick<AlertEngineOptions, 'config' | 'baseUrl' | 'api' | 'upstream'>,
): EmailContext {
  return {
    appName: options.config.appName,
    baseUrl: options.baseUrl().replace(/\/+$/, ''),
    api: options.api?.(),
    adminTokenSet: Boolean(options.config.adminToken),
    upstreamPath: upstreamPathOf(options.upstream),
  };
}

function upstreamPathOf(upstream: string | undefined): string | undefined {
  if (!upstream) return undefined;
  try {
    return new URL(upstream).pathname.replace(/\/+$/, '');
  } catch {
    return undefined;
  }
}

/**
 * The sender, receivers, routing and outbox the engine's notifications go through, over the outbox table of either
 * store (SQLite's here; alerts/pg-engine.ts gives PostgreSQL's).
 */
export function createDelivery(
  options: Omit<AlertEngineOptions, 'db'>,
  store: OutboxStore,
): { routing: Routing; outbox: Outbox } {
  const { config, clock, logger } = options;
  const sender =
    options.sender !== undefined ? options.sender : config.smtpUrl ? createSmtpSender(config.smtpUrl) : null;
  const receivers = createReceivers(config.receivers ?? [], { clock, timeoutMs: options.receiverTimeoutMs });
  const routing = createRouting({ ...config, receivers: config.receivers ?? [] }, receivers);
  const outbox = createOutbox({
    store,
    clock,
    sender,
    receivers,
    from: config.mailFrom,
    recipients: config.notifyTo,
    logger,
    retryBaseMs: options.retryBaseMs,
    retryMaxMs: options.retryMaxMs,
  });
  return { routing, outbox };
}

/**
 * Acknowledge an incident: stored, kept in the in-memory open incidents, and, the first time a firing incident
 * is acknowledged, told to whoever its routes name.
 */
function acknowledgeAndTell(
  deps: {
    db: Db;
    incidents: ReturnType<typeof createOpenIncidents>;
    routing: Routing;
    outbox: Outbox;
    emailContext(): EmailContext;
  },
  id: number,
  by: string,
  comment: string | null,
  now: number,
): Incident | null {
  const { db, incidents, routing, outbox } = deps;
  const current = incidents.find(id);
  const wasAcknowledged = current ? current.acknowledgedAt !== null : true;
  const row = acknowledgeIncident(db, id, by, comment, now);
  if (row && !wasAcknowledged && row.state === 'firing') {
    const store = sqliteEvaluationStore(db);
    const seq = store.nextSequence(id, 'acknowledged');
    if (routing.queueAcknowledged(store, row, seq, deps.emailContext(), now)) outbox.kick();
  }
  if (current && row) {
    current.acknowledgedAt = row.acknowledgedAt;
    current.acknowledgedBy = row.acknowledgedBy;
    current.ackComment = row.ackComment;
    current.updatedAt = row.updatedAt;
    incidents.written({ ...current, id });
  }
  return row;
}
