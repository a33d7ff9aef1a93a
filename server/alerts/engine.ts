import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { evaluateRules } from '../detect/rules.js';
import { createTracker, type ObservedOperation, type Tracker } from '../detect/tracker.js';
import type { DetectionInput, OperationSample, RuleCode, StuckIdentity } from '../detect/types.js';
import type { EmailContext } from '../notify/email.js';
import { createOutbox, type Outbox } from '../notify/outbox.js';
import { createReceivers } from '../notify/receivers/index.js';
import { createRouting, type Routing } from '../notify/routing.js';
import { createSmtpSender, type Sender } from '../notify/sender.js';
import type { Db } from '../store/db.js';
import type { IngestStage } from '../store/ingest.js';
import type { RecorderStats } from '../store/recorder.js';
import { inhibitorOf, muteReason, shouldNotify, silenceMatchesIdentity } from './decide.js';
import { reconcile } from './lifecycle.js';
import {
  acknowledgeIncident,
  activeSilences,
  deleteIncident,
  insertIncident,
  lastSent,
  loadOpenIncidents,
  nextSequence,
  updateIncident,
} from './store.js';
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
  /** evaluation after a committed batch waits this long, so a burst costs one evaluation */
  evaluateDelayMs?: number;
  /** operations replayed at start to rebuild the windows and recent cycles */
  replayLimit?: number;
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
  /** evaluate the rules at `now`; sync: one transaction for every incident change and the emails they cause */
  evaluate(now?: number): EvaluationReport;
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
  /** turn on evaluation after committed batches (the periodic tick is a job: server/alerts/jobs.ts) */
  start(): void;
  stop(): Promise<void>;
}

const stuckErrorsExcluded = new Set([
  'Unauthorized',
  'InsufficientRights',
  'UpstreamUnreachable',
  'Timeout',
  'ClientAborted',
  'ClientThrottled',
  'ScimCompliance',
  'TooManyRequests',
  'ServiceIncompatible',
]);

/**
 * The alerting stage (ARCHITECTURE §6): detection input kept incrementally from committed operations, rules
 * evaluated after each batch (debounced) and on the tick, incidents persisted, emails written to the outbox in
 * the same transaction and delivered after it.
 */
export function createAlertEngine(options: AlertEngineOptions): AlertEngine {
  const { db, config, clock, logger, recorderStats, baseUrl } = options;
  const rules = config.rules;
  const sqlite = db.$client;
  const tracker: Tracker = createTracker({ rules, cycleIntervalMs: config.cycleIntervalMin * 60_000 });
  // Once operations carry identity ids, the cycles stage keeps failing streaks in `identities`: read them there.
  let identitiesMaintained = false;
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
  const evaluateDelayMs = options.evaluateDelayMs ?? 500;

  let open: Incident[] = loadOpenIncidents(db);
  const stored = new Map<number, string>(open.map((i) => [i.id!, fingerprint(i)]));
  restore(options.replayLimit ?? 100_000);

  let timer: NodeJS.Timeout | undefined;
  let started = false;
  let stopped = false;

  function observe(op: ObservedOperation): void {
    if (op.identityId !== null && op.identityId !== undefined) identitiesMaintained = true;
    tracker.observe(op);
  }

  /** Rebuild detection state from the database: the last cycles' operations, and the escrow count before them. */
  function restore(limit: number): void {
    const maxId = (sqlite.prepare('select max(id) from operations').pluck().get() as number | null) ?? 0;
    if (maxId === 0) return;
    let fromId = Math.max(1, maxId - limit + 1);
    const oldestCycle = sqlite
      .prepare('select id from cycles order by id desc limit 1 offset 15')
      .pluck()
      .get() as number | undefined;
    const firstCycle =
      oldestCycle ?? (sqlite.prepare('select min(id) from cycles').pluck().get() as number | null);
    if (firstCycle !== null && firstCycle !== undefined) {
      const firstOp = sqlite
        .prepare('select min(id) from operations where cycle_id = ?')
        .pluck()
        .get(firstCycle) as number | null;
      if (firstOp !== null) fromId = Math.max(fromId, firstOp);
      restoreEscrowBase(firstCycle);
    }
    // In chunks by id range: faster than a row iterator, and memory stays bounded.
    const chunk = sqlite.prepare(
      `select id, time, duration_ms as durationMs, cycle_id as cycleId, identity_id as identityId,
        http_method as httpMethod, path, query, http_status as httpStatus, operation, status,
        identity_type as identityType, identity, target_id as targetId, error_code as errorCode, reason,
        token_fingerprint as tokenFingerprint, client_kind as clientKind, client_ip as clientIp
       from operations where id >= ? and id < ? order by id`,
    );
    for (let from = fromId; from <= maxId; from += 10_000) {
      for (const op of chunk.all(from, from + 10_000) as ObservedOperation[]) observe(op);
    }
  }

  /** Failures in the cycles before the replayed ones, back to the last healthy cycle (from the cycles table). */
  function restoreEscrowBase(firstReplayedCycle: number): void {
    const healthy = sqlite
      .prepare(
        `select id, ended_at as endedAt from cycles where id < ? and state = 'completed' and failures = 0
          and kind <> 'testConnection' order by id desc limit 1`,
      )
      .get(firstReplayedCycle) as { id: number; endedAt: number } | undefined;
    const rows = sqlite
      .prepare('select failures, counts_by_operation as counts from cycles where id > ? and id < ?')
      .all(healthy?.id ?? 0, firstReplayedCycle) as { failures: number; counts: string }[];
    let failures = 0;
    let failuresBase = 0;
    for (const r of rows) {
      failures += r.failures;
      let membership = 0;
      try {
        const counts = JSON.parse(r.counts) as Record<string, { failure?: number }>;
        for (const op of ['addMembers', 'removeMembers', 'replaceMembers'])
          membership += counts[op]?.failure ?? 0;
      } catch {
        // unreadable counts: count every failure as base
      }
      failuresBase += r.failures - membership;
    }
    tracker.setEscrowBase({ failures, failuresBase, since: healthy?.endedAt ?? null });
  }

  function stuckFromIdentities(): StuckIdentity[] {
    const rows = sqlite
      .prepare(
        `select id, type, key, name, target_id as targetId, failing_streak as streak, failing_since as since,
          last_error_code as errorCode, last_reason as reason, last_error_at as lastErrorAt,
          last_operation_id as lastOperationId
         from identities where failing_streak > 0 and failing_streak >= ? and deleted = 0
         order by failing_streak desc, failing_since limit 1000`,
      )
      .all(rules.stuckObjectCycles) as {
      id: number;
      type: string;
      key: string;
      name: string | null;
      targetId: string | null;
      streak: number;
      since: number | null;
      errorCode: string | null;
      reason: string | null;
      lastErrorAt: number | null;
      lastOperationId: number | null;
    }[];
    const sampleQuery = sqlite.prepare(
      `select id, time, http_method as httpMethod, path, query, http_status as httpStatus, error_code as errorCode,
        reason, coalesce(identity, target_id) as identity from operations where id = ?`,
    );
    const stuck: StuckIdentity[] = [];
    for (const r of rows) {
      if (r.errorCode && stuckErrorsExcluded.has(r.errorCode)) continue;
      stuck.push({
        key: `id:${r.id}`,
        name: r.name ?? r.targetId ?? r.key,
        type: r.type === 'User' || r.type === 'Group' ? r.type : null,
        streak: r.streak,
        errorCode: r.errorCode,
        reason: r.reason,
        firstFailedAt: r.since ?? r.lastErrorAt ?? 0,
        lastFailedAt: r.lastErrorAt ?? r.since ?? 0,
        lastSample:
          stuck.length < 5 && r.lastOperationId !== null
            ? ((sampleQuery.get(r.lastOperationId) as OperationSample | undefined) ?? null)
            : null,
      });
    }
    return stuck;
  }

  function detectionInput(now: number, silences: Silence[]): DetectionInput {
    const input = tracker.snapshot(now, recorderStats());
    if (identitiesMaintained) input.stuck = stuckFromIdentities();
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

  /** One decision, queued for every receiver it routes to, under one sequence number. */
  function queueFor(incident: Incident, event: Exclude<NotifyReason, 'none'>, now: number): boolean {
    return routing.queueIncident(incident, event, nextSequence(db, incident.id!, event), emailContext(), now);
  }

  const evaluateTx = sqlite.transaction((now: number): EvaluationReport => {
    const silences = activeSilences(db, now);
    const findings = evaluateRules(detectionInput(now, silences), rules, now);
    const before = new Map(open.map((i) => [i.key, i.state]));
    const next = reconcile(open, findings, now, rules);
    const firing = new Set<RuleCode>(next.open.filter((i) => i.state === 'firing').map((i) => i.rule));
    const report: EvaluationReport = {
      findings: findings.length,
      open: 0,
      resolved: 0,
      emails: [],
      transitions: [],
    };

    for (const gone of next.dropped) {
      if (gone.id !== null) deleteIncident(db, gone.id);
      stored.delete(gone.id!);
    }
    for (const incident of [...next.open, ...next.resolved]) {
      if (incident.state === 'firing') {
        const by = inhibitorOf(incident.rule, firing);
        if (by) {
          incident.inhibitedBy = by;
          incident.inhibitedAt = now;
        }
      }
      const print = fingerprint(incident);
      if (incident.id === null) {
        incident.updatedAt = now;
        incident.id = insertIncident(db, incident);
        stored.set(incident.id, print);
      } else if (stored.get(incident.id) !== print) {
        incident.updatedAt = now;
        updateIncident(db, incident);
        stored.set(incident.id, print);
      }
      if (incident.state === 'resolved') stored.delete(incident.id);
      const was = before.get(incident.key);
      if (
        (incident.state === 'firing' && was !== 'firing') ||
        (incident.state === 'resolved' && was === 'firing')
      ) {
        report.transitions.push({
          incidentId: incident.id,
          rule: incident.rule,
          scope: incident.scope,
          severity: incident.severity,
          state: incident.state,
          summary: incident.summary,
        });
      }
      if (muteReason(incident, firing, silences, now)) continue;
      const reason = shouldNotify(incident, lastSent(db, incident.id), now, rules);
      if (reason !== 'none' && queueFor(incident, reason, now)) {
        report.emails.push({ incidentId: incident.id, event: reason });
      }
    }
    report.open = next.open.length;
    report.resolved = next.resolved.length;
    open = next.open;
    return report;
  });

  function evaluate(now = clock()): EvaluationReport {
    try {
      const report = evaluateTx(now);
      // On-call reads the log too: every transition at warn (resolved, warnings) or error (critical firing).
      for (const t of report.transitions) {
        const level = t.state === 'firing' && t.severity === 'critical' ? 'error' : 'warn';
        logger[level]({ incident: t }, `incident ${t.state}: ${t.rule} (${t.severity}): ${t.summary}`);
      }
      if (report.emails.length > 0) outbox.kick();
      return report;
    } catch (err) {
      // The in-memory incidents may be ahead of the rolled-back rows: reload them.
      open = loadOpenIncidents(db);
      stored.clear();
      for (const i of open) stored.set(i.id!, fingerprint(i));
      throw err;
    }
  }

  async function tick(): Promise<EvaluationReport> {
    const report = evaluate();
    await outbox.deliverDue();
    return report;
  }

  function schedule(): void {
    if (!started || stopped || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      try {
        evaluate();
      } catch (err) {
        logger.error({ err }, 'alerts: evaluation failed');
      }
    }, evaluateDelayMs);
    timer.unref();
  }

  const stage: IngestStage = {
    afterCommit(ops) {
      // Never throw here: the recorder would take the committed batch for a failed one and write it again.
      try {
        for (const op of ops) observe(op);
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
    firingIncidents: () => open.filter((i) => i.state === 'firing'),
    openIncidents: () => [...open],
    acknowledge(id, by, comment) {
      const now = clock();
      const current = open.find((i) => i.id === id);
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
        stored.set(id, fingerprint(current));
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
      clearTimeout(timer);
      timer = undefined;
      await outbox.close();
    },
  };
  return engine;
}

/** What is stored of an incident, less its write time: unchanged fingerprints skip the UPDATE. */
function fingerprint(i: Incident): string {
  const { updatedAt: _u, ...rest } = i;
  return JSON.stringify(rest);
}

function upstreamPathOf(upstream: string | undefined): string | undefined {
  if (!upstream) return undefined;
  try {
    return new URL(upstream).pathname.replace(/\/+$/, '');
  } catch {
    return undefined;
  }
}
