// The vocabulary of ARCHITECTURE §6: rule codes, findings and the snapshot the rules read.
import type { RecorderStats } from '../store/recorder.js';
import type { RuleCode, Severity } from '../vocabulary.js';

export { type RuleCode, ruleCodes, type Severity } from '../vocabulary.js';

/** Graph `quarantineReason` values (and Entra error codes) a finding resembles, so an admin can connect the two. */
export type EntraReason =
  | 'EncounteredQuarantineException'
  | 'EncounteredEscrowProportionThreshold'
  | 'EncounteredBaseEscrowThreshold'
  | 'EncounteredTotalEscrowThreshold'
  | 'TooManyDeletes'
  | 'TooManyRequests'
  | 'Timeout'
  | 'EscrowedEntries'
  | 'QuarantineBackoff';

/** `app`, or `identity:<key>` for a finding about one user or group. */
export type Scope = 'app' | `identity:${string}`;

/** What an email or the dashboard shows of one request: never a body, never a header. */
export interface OperationSample {
  id: number;
  time: number;
  httpMethod: string;
  path: string;
  query: string;
  httpStatus: number | null;
  errorCode: string | null;
  reason: string | null;
  identity: string | null;
}

export interface AffectedIdentity {
  key: string;
  name: string;
  type: 'User' | 'Group' | null;
  /** consecutive failing cycles, when known */
  streak?: number;
  errorCode?: string | null;
  reason?: string | null;
}

export interface Evidence {
  count: number;
  firstSeen: number | null;
  lastSeen: number | null;
  /** ≤ 5 */
  sampleOperationIds: number[];
  /** the same ≤ 5 requests, so an email needs no query to describe them */
  samples: OperationSample[];
  /** ≤ 20 */
  identities: AffectedIdentity[];
  /** how many identities in all (identities is cut at 20) */
  identityCount: number;
  /** rule-specific figures: thresholds, shares, cycle id, token fingerprints ... */
  details: Record<string, string | number | boolean | null | string[]>;
}

export interface Finding {
  rule: RuleCode;
  severity: Severity;
  scope: Scope;
  entraReason: EntraReason | null;
  summary: string;
  /** what the finding is about, coarsely: an email goes again (`reasonChanged`) when it changes */
  reasonKey: string;
  evidence: Evidence;
}

export interface LatencySample {
  id: number;
  time: number;
  durationMs: number;
  /** kept only for calls slower than `rules.slowUpstreamMs`, so emails can show them */
  sample: OperationSample | null;
}

export interface OutcomeSample {
  id: number;
  time: number;
  /** 502/503/504, Timeout or UpstreamUnreachable */
  unavailable: boolean;
  sample: OperationSample | null;
}

export interface FilterAnswer {
  nonCompliant: boolean;
  sample: OperationSample;
}

export interface Streak {
  consecutive: number;
  firstSeen: number | null;
  lastSeen: number | null;
  /** the last ≤ 5 */
  samples: OperationSample[];
  /** distinct identities touched by the streak (≤ 20) and how many in all */
  identities: AffectedIdentity[];
  identityCount: number;
  errorCodes: string[];
}

export interface StreamStats {
  /** consecutive 401/403 answers from the app */
  auth: Streak & {
    /** fingerprints of the rejected tokens */
    tokenFingerprints: string[];
    /** fingerprint of the token on the last call the app accepted */
    lastGoodTokenFingerprint: string | null;
  };
  /** consecutive 502/503/504/Timeout/UpstreamUnreachable */
  unavailable: Streak;
  /** the last `rules.upstreamWindow` outcomes, oldest first */
  outcomes: OutcomeSample[];
  /** the last `rules.slowUpstreamWindow` latencies, oldest first */
  latencies: LatencySample[];
  /** the last Test Connection probe (Entra sends one at each cycle start) */
  lastProbe: (OperationSample & { failed: boolean }) | null;
  /** answers to the last `rules.scimComplianceWindow` filter queries, oldest first */
  filterAnswers: FilterAnswer[];
}

export interface CycleRollup {
  /** the cycles stage's id when it assigned one; null for a cycle detection segmented itself */
  id: number | null;
  /** detection's own ordinal, increasing */
  seq: number;
  startedAt: number;
  lastOperationAt: number;
  endedAt: number | null;
  state: 'running' | 'completed';
  /** only probes: a Test Connection, or a cycle Entra aborted after its probe */
  probeOnly: boolean;
  probe: {
    failed: boolean;
    httpStatus: number | null;
    errorCode: string | null;
    sample: OperationSample;
  } | null;
  total: number;
  successes: number;
  failures: number;
  warnings: number;
  /** failures that are not group-membership (reference) updates: Entra's base escrow count excludes those */
  failuresBase: number;
  /** delete + disable operations sent, whatever their outcome */
  deletes: number;
  /** 429 answers */
  throttled: number;
  authFailures: number;
  complianceFailures: number;
  firstFailureAt: number | null;
  lastFailureAt: number | null;
  firstDeleteAt: number | null;
  lastDeleteAt: number | null;
  firstThrottleAt: number | null;
  lastThrottleAt: number | null;
  failureSamples: OperationSample[];
  deleteSamples: OperationSample[];
  throttleSamples: OperationSample[];
  /** ≤ 20 identities that failed in this cycle, and how many in all */
  failedIdentities: AffectedIdentity[];
  failedIdentityCount: number;
}

export interface StuckIdentity extends AffectedIdentity {
  streak: number;
  firstFailedAt: number;
  lastFailedAt: number;
  lastSample: OperationSample | null;
}

/** Requests from outside the provisioning client (server/cycles/clients.ts) in the recent window. */
export interface UnrecognisedClients {
  /** in the last `rules.unrecognisedClientsWindowMinutes` */
  count: number;
  firstSeen: number | null;
  lastSeen: number | null;
  /** client addresses and paths, most requests first (≤ 10 each) */
  addresses: { value: string; count: number }[];
  paths: { value: string; count: number }[];
  /** the last ≤ 5 */
  samples: OperationSample[];
}

export interface DetectionInput {
  cycleIntervalMs: number;
  stream: StreamStats;
  /** the current and recent cycles, oldest first; the last one may be running */
  cycles: CycleRollup[];
  /** failures since the last healthy (failure-free, completed) cycle */
  sinceHealthy: { failures: number; failuresBase: number; since: number | null; lastSeen: number | null };
  /** identities whose failing streak reached `rules.stuckObjectCycles`, longest streak first */
  stuck: StuckIdentity[];
  recorder: RecorderStats;
  unrecognised: UnrecognisedClients;
}
