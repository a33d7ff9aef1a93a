// Wire types of the admin API routes the dashboard reads, beyond /api/operations (whose types come from
// server/store/queries/operations.ts). Times are ISO 8601 UTC strings.

export type CycleKind = 'initial' | 'incremental' | 'testConnection' | 'onDemand';
export type StatusState = 'healthy' | 'degraded' | 'atRisk' | 'quarantineSuspected' | 'stalled' | 'idle';

export interface StatusCounts {
  success: number;
  failure: number;
  warning: number;
}

export interface CycleProgress {
  processed: number;
  expected: number | null;
  percent: number | null;
  ratePerMinute: number | null;
  etaMs: number | null;
  etaAt: string | null;
  entraEstimate: { units: number; minMinutes: number; maxMinutes: number };
}

export interface Cycle {
  id: number;
  kind: CycleKind;
  state: 'running' | 'completed';
  startedAt: string;
  endedAt: string;
  durationMs: number;
  total: number;
  successes: number;
  failures: number;
  warnings: number;
  deletes: number;
  throttled: number;
  usersTouched: number;
  groupsTouched: number;
  membersTouched: number;
  countsByOperation: Record<string, StatusCounts>;
  countsByErrorCode: Record<string, number>;
  failureRate: number | null;
  latency: { p50Ms: number | null; p95Ms: number | null; maxMs: number | null };
  probe: { status: number | null; outcome: string | null; errorCode: string | null } | null;
  progress: CycleProgress | null;
}

export interface Incident {
  id: number;
  rule: string;
  /** 'app' | 'identity:<key>' */
  scope: string;
  severity: 'critical' | 'warning';
  state: 'pending' | 'firing' | 'resolved';
  entraReason: string | null;
  summary: string;
  evidence?: unknown;
  startedAt: string;
  firedAt: string | null;
  lastTrueAt?: string;
  resolvedAt: string | null;
  acknowledgedAt: string | null;
  acknowledgedBy: string | null;
  ackComment?: string | null;
  notifications?: Notification[];
}

export interface Notification {
  id: number;
  incidentId: number | null;
  event: 'first' | 'reasonChanged' | 'reminder' | 'resolved' | 'test';
  createdAt: string;
  recipients: string;
  subject: string;
  state: 'unsent' | 'sending' | 'sent' | 'failed' | 'superseded';
  attempts: number;
  nextAttemptAt: string | null;
  lastAttemptAt: string | null;
  lastError: string | null;
  sentAt: string | null;
}

export interface Silence {
  id: number;
  rule: string;
  identity: string | null;
  comment: string;
  createdBy: string;
  createdAt: string;
  expiresAt: string;
  endedAt: string | null;
}

export interface Status {
  state: StatusState;
  reason: string;
  cycle: Cycle | null;
  nextExpectedCycle: string | null;
  firingIncidents: Incident[];
}

export interface Identity {
  id: number;
  type: 'User' | 'Group';
  /** userName (users) or displayName (groups) */
  name: string | null;
  externalId: string | null;
  targetId: string | null;
  lastOperation: string | null;
  lastOperationId: number | null;
  lastStatus: 'success' | 'failure' | 'warning' | null;
  lastHttpStatus: number | null;
  lastErrorCode: string | null;
  lastReason: string | null;
  lastErrorAt: string | null;
  failingStreak: number;
  failingSince: string | null;
  lastCycleId: number | null;
  firstSeen: string;
  lastSeen: string;
  active: boolean | null;
  deleted: boolean;
}

export interface IdentityDetail extends Identity {
  /** groups (for a user) or member ids (for a group) seen in successful member changes */
  memberships?: { groupIdentityId?: number; name?: string | null; memberTargetId?: string; since: string }[];
}
