import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { evaluateRules } from '../detect/rules.js';
import type { DetectionInput, RuleCode } from '../detect/types.js';
import type { EmailContext } from '../notify/email.js';
import { createOutbox, type Outbox } from '../notify/outbox.js';
import { createReceivers } from '../notify/receivers/index.js';
import { createRouting, type Routing } from '../notify/routing.js';
import { createSmtpSender, type Sender } from '../notify/sender.js';
import type { Db } from '../store/db.js';
import type { IngestStage } from '../store/ingest.js';
import type { RecorderStats } from '../store/recorder.js';
import { silenceMatchesIdentity } from './decide.js';
import { createDetection } from './detection.js';
import { type Reconciled, reconcile } from './lifecycle.js';
import { createOpenIncidents } from './open-incidents.js';
import { markInhibition, type NotifyContext, notifyDecision, type QueueStage } from './stages.js';
import { acknowledgeIncident, activeSilences, lastSent, nextSequence } from './store.js';
import type { Incident, NotifyReason, Silence } from './types.js';

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
  /** dashboard base URL for links in emails (known once the admin listener is bound) */
  baseUrl(): string;
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
  turn?: { acquire(): void; release(): void };
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** how long a webhook, Slack, Teams, PagerDuty or Alertmanager request may take */
  receiverTimeoutMs?: number;
}

export interface EvaluationReport {
  findings: number;
  open: number;
  resolved: number;
  emails: { incidentId: number; event: NotifyReason }[];
  /** incidents that started firing or resolved in this evaluation (logged once committed) */
  transitions: {
    incidentId: number;
    rule: RuleCode;
    scope: string;
    severity: string;
    state: 'firing' | 'resolved';
    summary: string;
  }[];
}

export interface AlertEngine {
  /** feeds detection from committed operations and schedules an evaluation */
  stage: IngestStage;
  /**
   * Evaluate the rules at `now`; sync: one transaction for every incident change and the emails they cause.
   * `notify: false` while a burst of traffic is still arriving: incidents follow the traffic, and what is said
   * about them waits for the evaluation after the burst, which counts all of it.
   */
  evaluate(now?: number, options?: { notify?: boolean }): EvaluationReport;
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
  const { db, config, clock, logger, recorderStats, baseUrl } = options;
  const rules = config.rules;
  const sqlite = db.$client;
  const sender =
    options.sender !== undefined ? options.sender : config.smtpUrl ? createSmtpSender(config.smtpUrl) : null;
  const receivers = createReceivers(config.receivers ?? [], { clock, timeoutMs: options.receiverTimeoutMs });
  const routing = createRouting(db, { ...config, receivers: config.receivers ?? [] }, receivers);
  const outbox = createOutbox({
    db,
    clock,
    sender,
    receivers,
    from: config.mailFrom,
    recipients: config.notifyTo,
    logger,
    retryBaseMs: options.retryBaseMs,
    retryMaxMs: options.retryMaxMs,
  });
  const incidents = createOpenIncidents(db);
  const detection = createDetection({
    db,
    rules,
    cycleIntervalMs: config.cycleIntervalMin * 60_000,
    replayLimit: options.replayLimit,
  });

  let started = false;
  let stopped = false;

  function detectionInput(now: number, silences: Silence[]): DetectionInput {
    const input = detection.input(now, recorderStats());
    // A silence naming one identity takes it out of the grouped stuckObject finding, leaving the others watched.
    const stuckSilences = silences.filter((s) => s.rule === 'stuckObject' && s.identity !== null);
    if (stuckSilences.length > 0) {
      input.stuck = input.stuck.filter((i) => !stuckSilences.some((s) => silenceMatchesIdentity(s, i)));
    }
    return input;
  }

  function emailContext(): EmailContext {
    return {
      appName: config.appName,
      baseUrl: baseUrl().replace(/\/+$/, ''),
      adminTokenSet: Boolean(config.adminToken),
      upstreamPath: upstreamPathOf(options.upstream),
    };
  }

  /** The queue stage: one decision, written for every receiver it routes to, under one sequence number. */
  const queue: QueueStage = (incident, event, now) =>
    routing.queueIncident(incident, event, nextSequence(db, incident.id, event), emailContext(), now);

  /**
   * One evaluation, in one transaction: findings → incident lifecycle (lifecycle.ts) → stored incidents → for
   * each, the notify stages (stages.ts: inhibit → silence → dedupe) and the queue.
   */
  const evaluateTx = sqlite.transaction((now: number, notify: boolean): EvaluationReport => {
    const silences = activeSilences(db, now);
    const findings = evaluateRules(detectionInput(now, silences), rules, now);
    const before = new Map(incidents.list().map((i) => [i.key, i.state]));
    const reconciled = reconcile([...incidents.list()], findings, now, rules);
    // A resolution is news too: without notifying, it waits (still firing) for the next evaluation that notifies.
    const next = notify ? reconciled : deferResolutions(reconciled);
    const firing = new Set<RuleCode>(next.open.filter((i) => i.state === 'firing').map((i) => i.rule));
    const ctx: NotifyContext = { now, rules, firing, silences, lastSent: (id) => lastSent(db, id) };
    const report: EvaluationReport = {
      findings: findings.length,
      open: next.open.length,
      resolved: next.resolved.length,
      emails: [],
      transitions: [],
    };

    for (const gone of next.dropped) incidents.drop(gone);
    for (const found of [...next.open, ...next.resolved]) {
      markInhibition(found, firing, now);
      const incident = incidents.persist(found, now);
      const transition = transitionOf(incident, before.get(incident.key));
      if (transition) report.transitions.push(transition);
      if (!notify) continue;
      const decision = notifyDecision(incident, ctx);
      if (decision.stage === 'queue' && queue(incident, decision.reason, now)) {
        report.emails.push({ incidentId: incident.id, event: decision.reason });
      }
    }
    incidents.replace(next.open);
    return report;
  });

  function evaluate(now = clock(), { notify = true }: { notify?: boolean } = {}): EvaluationReport {
    try {
      options.turn?.acquire();
      let report: EvaluationReport;
      try {
        report = evaluateTx(now, notify);
      } finally {
        options.turn?.release();
      }
      // On-call reads the log too: every transition at warn (resolved, warnings) or error (critical firing).
      for (const t of report.transitions) {
        const level = t.state === 'firing' && t.severity === 'critical' ? 'error' : 'warn';
        logger[level]({ incident: t }, `incident ${t.state}: ${t.rule} (${t.severity}): ${t.summary}`);
      }
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
    tick,
    firingIncidents: () => incidents.list().filter((i) => i.state === 'firing'),
    openIncidents: () => [...incidents.list()],
    acknowledge(id, by, comment) {
      const now = clock();
      const current = incidents.find(id);
      const wasAcknowledged = current ? current.acknowledgedAt !== null : true;
      const row = acknowledgeIncident(db, id, by, comment, now);
      if (row && !wasAcknowledged && row.state === 'firing') {
        const seq = nextSequence(db, id, 'acknowledged');
        if (routing.queueAcknowledged(row, seq, emailContext(), now)) outbox.kick();
      }
      if (current && row) {
        current.acknowledgedAt = row.acknowledgedAt;
        current.acknowledgedBy = row.acknowledgedBy;
        current.ackComment = row.ackComment;
        current.updatedAt = row.updatedAt;
        incidents.written({ ...current, id });
      }
      return row;
    },
    queueTestEmail(requestedBy) {
      return engine.queueTest('email', requestedBy);
    },
    queueTest(receiver, requestedBy) {
      const id = routing.queueTest(receiver, emailContext(), clock(), requestedBy);
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

/** The incidents that would resolve stay firing (their `clearedAt` kept), to resolve when it can be said. */
function deferResolutions(r: Reconciled): Reconciled {
  const kept = r.resolved.map((i): Incident => ({ ...i, state: 'firing', resolvedAt: null }));
  return { open: [...r.open, ...kept], resolved: [], dropped: r.dropped };
}

/** A change worth a log line: an incident that started firing, or resolved after firing. */
function transitionOf(
  incident: Incident & { id: number },
  was: Incident['state'] | undefined,
): EvaluationReport['transitions'][number] | null {
  const fired = incident.state === 'firing' && was !== 'firing';
  const resolved = incident.state === 'resolved' && was === 'firing';
  if (!fired && !resolved) return null;
  const { id: incidentId, rule, scope, severity, summary } = incident;
  return { incidentId, rule, scope, severity, state: incident.state as 'firing' | 'resolved', summary };
}

function upstreamPathOf(upstream: string | undefined): string | undefined {
  if (!upstream) return undefined;
  try {
    return new URL(upstream).pathname.replace(/\/+$/, '');
  } catch {
    return undefined;
  }
}
