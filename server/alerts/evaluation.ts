import type { Config } from '../config.js';
import { evaluateRules } from '../detect/rules.js';
import type { DetectionInput, RuleCode } from '../detect/types.js';
import type { EmailContext } from '../notify/email.js';
import type { Routing } from '../notify/routing.js';
import type { Db } from '../store/db.js';
import { type Reconciled, reconcile } from './lifecycle.js';
import type { createOpenIncidents } from './open-incidents.js';
import { type EvaluationStore, sqliteEvaluationStore } from './ports.js';
import { markInhibition, type NotifyContext, notifyDecision, type QueueStage } from './stages.js';
import type { Incident, NotifyReason, Silence } from './types.js';

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

export interface EvaluationDeps {
  rules: Config['rules'];
  incidents: ReturnType<typeof createOpenIncidents>;
  /** detection's input at `now`, with the active silences applied */
  input(now: number, silences: Silence[]): DetectionInput;
  /** the queue stage, writing through the evaluation's store */
  queue(store: EvaluationStore): QueueStage;
}

/**
 * One evaluation on SQLite, in one transaction: findings → incident lifecycle (lifecycle.ts) → stored incidents →
 * for each, the notify stages (stages.ts: inhibit → silence → dedupe) and the queue.
 */
export function createEvaluation({ db, ...deps }: EvaluationDeps & { db: Db }) {
  const store = sqliteEvaluationStore(db);
  return db.$client.transaction(
    (now: number, notify: boolean): EvaluationReport => runEvaluation(deps, store, now, notify),
  );
}

/**
 * The queue stage of the engine: one decision, written for every receiver it routes to, under one sequence
 * number.
 */
export function routedQueue(routing: Routing, emailContext: () => EmailContext) {
  return (store: EvaluationStore): QueueStage =>
    (incident, event, now) =>
      routing.queueIncident(
        store,
        incident,
        event,
        store.nextSequence(incident.id, event),
        emailContext(),
        now,
      );
}

/**
 * One evaluation over a store, synchronously: whatever makes it one transaction (SQLite's, or PostgreSQL's
 * write-back of a workspace) is the caller's.
 */
export function runEvaluation(
  { rules, incidents, input, queue: queueOver }: EvaluationDeps,
  store: EvaluationStore,
  now: number,
  notify: boolean,
): EvaluationReport {
  const queue = queueOver(store);
  const silences = store.activeSilences(now);
  const findings = evaluateRules(input(now, silences), rules, now);
  const before = new Map(incidents.list().map((i) => [i.key, i.state]));
  const reconciled = reconcile([...incidents.list()], findings, now, rules);
  // A resolution is news too: without notifying, it waits (still firing) for the next evaluation that notifies.
  const next = notify ? reconciled : deferResolutions(reconciled);
  const firing = new Set<RuleCode>(next.open.filter((i) => i.state === 'firing').map((i) => i.rule));
  const ctx: NotifyContext = { now, rules, firing, silences, lastSent: (id) => store.lastSent(id) };
  const report: EvaluationReport = {
    findings: findings.length,
    open: next.open.length,
    resolved: next.resolved.length,
    emails: [],
    transitions: [],
  };

  for (const gone of next.dropped) incidents.drop(gone, store);
  for (const found of [...next.open, ...next.resolved]) {
    markInhibition(found, firing, now);
    const incident = incidents.persist(found, now, store);
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
