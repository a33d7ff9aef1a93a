import type { RulesConfig } from '../config.js';
import type { Evidence, Finding } from '../detect/types.js';
import { type Incident, incidentKey } from './types.js';

export interface Reconciled {
  /** open incidents after this evaluation, new ones included (id null) */
  open: Incident[];
  /** incidents that resolved in this evaluation */
  resolved: Incident[];
  /** pending incidents whose condition cleared before the debounce: they never fired and are forgotten */
  dropped: Incident[];
}

/**
 * One evaluation's findings against the open incidents (pure). Transitions, per key:
 *
 *   state    condition  since                        → next
 *   (none)   true                                    → pending (firing at once when the debounce is 0)
 *   pending  true       startedAt ≥ debounce ago     → firing
 *   pending  true       younger                      → pending
 *   pending  false                                   → dropped (never fired: forgotten, like a Prometheus `for`)
 *   firing   true                                    → firing, clearedAt reset (a flap inside the recovery window)
 *   firing   false      clearedAt < recovery ago     → firing (clearedAt set on the first false)
 *   firing   false      clearedAt ≥ recovery ago     → resolved
 */
export function reconcile(
  open: Incident[],
  findings: Finding[],
  now: number,
  rules: RulesConfig,
): Reconciled {
  const debounceMs = rules.debounceSeconds * 1000;
  const recoveryMs = rules.recoverySeconds * 1000;
  const byKey = new Map(findings.map((f) => [incidentKey(f.rule, f.scope), f]));
  const result: Reconciled = { open: [], resolved: [], dropped: [] };

  for (const incident of open) {
    const finding = byKey.get(incident.key);
    byKey.delete(incident.key);
    if (finding) {
      const next: Incident = {
        ...incident,
        severity: finding.severity,
        entraReason: finding.entraReason,
        summary: finding.summary,
        reasonKey: finding.reasonKey,
        evidence: mergeEvidence(incident.evidence, finding.evidence),
        lastTrueAt: now,
        clearedAt: null,
      };
      if (next.state === 'pending' && now - next.startedAt >= debounceMs) {
        next.state = 'firing';
        next.firedAt = now;
      }
      result.open.push(next);
    } else if (incident.state === 'pending') {
      result.dropped.push(incident);
    } else {
      const clearedAt = incident.clearedAt ?? now;
      if (now - clearedAt >= recoveryMs) {
        result.resolved.push({ ...incident, clearedAt, state: 'resolved', resolvedAt: now });
      } else {
        result.open.push({ ...incident, clearedAt });
      }
    }
  }

  for (const [key, finding] of byKey) {
    const fires = debounceMs === 0;
    result.open.push({
      id: null,
      key,
      rule: finding.rule,
      scope: finding.scope,
      severity: finding.severity,
      state: fires ? 'firing' : 'pending',
      entraReason: finding.entraReason,
      summary: finding.summary,
      reasonKey: finding.reasonKey,
      evidence: finding.evidence,
      startedAt: now,
      firedAt: fires ? now : null,
      lastTrueAt: now,
      clearedAt: null,
      resolvedAt: null,
      acknowledgedAt: null,
      acknowledgedBy: null,
      ackComment: null,
      inhibitedBy: null,
      inhibitedAt: null,
      updatedAt: now,
    });
  }
  return result;
}

/** The latest evidence, but "since when" stays the earliest seen over the incident's life. */
function mergeEvidence(previous: Evidence, latest: Evidence): Evidence {
  const firstSeen =
    previous.firstSeen === null
      ? latest.firstSeen
      : latest.firstSeen === null
        ? previous.firstSeen
        : Math.min(previous.firstSeen, latest.firstSeen);
  return { ...latest, firstSeen };
}
