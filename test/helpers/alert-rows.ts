import * as schema from '../../server/store/schema/index.js';
import * as pgSchema from '../../server/store/schema-pg/index.js';
import type { BothStores } from './both-stores.js';

// Alert rows the recorded database (recorded-db.ts) lacks, added to both stores alike, with the ids SQLite gives
// them: a pending incident, an acknowledged one with damaged evidence, other receivers (Slack, PagerDuty), every
// outbox state and event, test emails (no incident), successful and failed delivery attempts. The differential
// tests of pg/queries/incidents.ts and notifications.ts read them.

/** After the recording's last row: 2025-01-15T17:34:00.001Z */
export const T = 1736962440001;
const MIN = 60_000;

type IncidentInsert = typeof schema.incidents.$inferInsert;
type OutboxInsert = typeof schema.outbox.$inferInsert;
type AttemptInsert = typeof schema.deliveryAttempts.$inferInsert;

const evidence = (count: number) =>
  JSON.stringify({ count, firstSeen: T - 10 * MIN, lastSeen: T, identities: ['user3@contoso.example'] });

const incident = (
  over: Partial<IncidentInsert> & Pick<IncidentInsert, 'rule' | 'state'>,
): IncidentInsert => ({
  key: `${over.rule}:${over.scope ?? 'app'}`,
  scope: 'app',
  severity: 'warning',
  summary: `${over.rule} is ${over.state}`,
  reasonKey: 'r1',
  evidence: evidence(1),
  startedAt: T - 30 * MIN,
  lastTrueAt: T - MIN,
  updatedAt: T,
  ...over,
});

const message = (
  over: Partial<OutboxInsert> & Pick<OutboxInsert, 'receiver' | 'incidentId' | 'event' | 'sequence'>,
): OutboxInsert => ({
  createdAt: T + MIN,
  recipients: over.receiver === 'email' ? 'ops@contoso.example' : 'hooks.example.com …wxyz',
  subject: `${over.event} #${over.incidentId}`,
  text:
    over.receiver === 'email' ? 'plain text' : JSON.stringify({ text: `${over.event}`, n: over.sequence }),
  html: over.receiver === 'email' ? '<p>html</p>' : '',
  nextAttemptAt: T + 2 * MIN,
  messageId: `<${over.receiver}.${over.incidentId}.${over.event}.${over.sequence}@scimtap>`,
  ...over,
});

const incidents: IncidentInsert[] = [
  incident({ rule: 'throttling', scope: 'identity:user3', state: 'pending', evidence: evidence(3) }),
  incident({
    rule: 'credentials',
    state: 'pending',
    severity: 'critical',
    evidence: '{not json',
    acknowledgedAt: T,
    acknowledgedBy: 'alice',
    ackComment: 'looking',
  }),
  incident({
    rule: 'stuckObject',
    scope: 'identity:u-7',
    state: 'resolved',
    firedAt: T - 20 * MIN,
    clearedAt: T - 5 * MIN,
    resolvedAt: T - 4 * MIN,
    inhibitedBy: 'credentials',
    inhibitedAt: T - 15 * MIN,
  }),
];

/** Outbox rows; `incidentId` 10 and 11 are the first two incidents above (asserted by `addAlertRows`). */
const messages: OutboxInsert[] = [
  message({
    receiver: 'email',
    incidentId: 5,
    event: 'reminder',
    sequence: 1,
    state: 'sent',
    sentAt: T + 3 * MIN,
  }),
  message({ receiver: 'email', incidentId: 5, event: 'reminder', sequence: 2, state: 'superseded' }),
  message({ receiver: 'slack', incidentId: 5, event: 'first', sequence: 1, state: 'sent', attempts: 1 }),
  message({
    receiver: 'oncall',
    incidentId: 5,
    event: 'first',
    sequence: 1,
    state: 'failed',
    attempts: 3,
    lastAttemptAt: T + 4 * MIN,
    lastError: 'HTTP 400',
  }),
  message({ receiver: 'oncall', incidentId: 5, event: 'acknowledged', sequence: 1 }),
  message({
    receiver: 'email',
    incidentId: 9,
    event: 'reasonChanged',
    // beyond 2^31: a bigint in PostgreSQL
    sequence: 3_000_000_000,
    state: 'sending',
    attempts: 1,
    lastAttemptAt: T + 5 * MIN,
  }),
  message({ receiver: 'email', incidentId: 9, event: 'reminder', sequence: 1, state: 'superseded' }),
  message({
    receiver: 'email',
    incidentId: null,
    event: 'test',
    sequence: T,
    recipients: 'ops@contoso.example,sec@contoso.example',
    state: 'sending',
  }),
  message({ receiver: 'email', incidentId: null, event: 'test', sequence: T + 1, recipients: '' }),
  message({ receiver: 'slack', incidentId: 11, event: 'first', sequence: 1, state: 'superseded' }),
  message({ receiver: 'slack', incidentId: null, event: 'test', sequence: T + 2, state: 'sent' }),
  message({ receiver: 'email', incidentId: 10, event: 'reasonChanged', sequence: 1 }),
  message({ receiver: 'oncall', incidentId: 10, event: 'reminder', sequence: 1, state: 'sent' }),
];

/** Delivery attempts, by the index of their outbox row in `messages` (-1: the recording's first row, id 1). */
const attempts: [number, Omit<AttemptInsert, 'outboxId'>][] = [
  [2, { at: T + 3 * MIN, durationMs: 80, ok: true, retryable: null, responseCode: 200, response: 'ok' }],
  [3, { at: T + 2 * MIN, durationMs: 90, ok: false, retryable: true, error: 'timeout' }],
  [3, { at: T + 3 * MIN, durationMs: 95, ok: false, retryable: true, responseCode: 503, response: 'busy' }],
  [3, { at: T + 4 * MIN, durationMs: 99, ok: false, retryable: false, responseCode: 400, response: 'bad' }],
  [-1, { at: T + 6 * MIN, durationMs: 40, ok: true, retryable: null, responseCode: 250, response: '250 OK' }],
  [
    0,
    { at: T + 3 * MIN, durationMs: 60, ok: true, retryable: null, responseCode: 250, response: '250 queued' },
  ],
  [5, { at: T + 5 * MIN, durationMs: 70, ok: false, retryable: true, error: 'connection reset' }],
];

/**
 * Inserts `row` into SQLite, then the same row, with SQLite's id, into PostgreSQL. (The casts: drizzle's insert
 * types do not unify over a union of tables.)
 */
async function addRow<
  S extends typeof schema.incidents | typeof schema.outbox | typeof schema.deliveryAttempts,
>(
  both: BothStores,
  table: S,
  pgTable: typeof pgSchema.incidents | typeof pgSchema.outbox | typeof pgSchema.deliveryAttempts,
  row: S['$inferInsert'],
): Promise<number> {
  const { id } = both.sqlite
    .insert(table as typeof schema.outbox)
    .values(row as OutboxInsert)
    .returning({ id: table.id })
    .get();
  await both.pg.insert(pgTable as typeof pgSchema.outbox).values({ ...(row as OutboxInsert), id });
  return id;
}

/** Adds the rows above to both stores; returns their ids. */
export async function addAlertRows(both: BothStores) {
  const incidentIds: number[] = [];
  for (const row of incidents)
    incidentIds.push(await addRow(both, schema.incidents, pgSchema.incidents, row));
  if (incidentIds[0] !== 10 || incidentIds[1] !== 11) throw new Error(`alert-rows: incidents ${incidentIds}`);
  const outboxIds: number[] = [];
  for (const row of messages) outboxIds.push(await addRow(both, schema.outbox, pgSchema.outbox, row));
  const attemptIds: number[] = [];
  for (const [i, row] of attempts) {
    const outboxId = i === -1 ? 1 : (outboxIds[i] as number);
    attemptIds.push(
      await addRow(both, schema.deliveryAttempts, pgSchema.deliveryAttempts, { ...row, outboxId }),
    );
  }
  return { incidentIds, outboxIds, attemptIds };
}

/** A store's answer as `migrate-store` copies it: NUL characters in its text become U+FFFD. */
export function asCopied<V>(value: V): V {
  if (typeof value === 'string') return value.replaceAll('\0', '\uFFFD') as V;
  if (Array.isArray(value)) return value.map(asCopied) as V;
  if (value instanceof Map) return new Map([...value].map(([k, v]) => [k, asCopied(v)])) as V;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, asCopied(v)])) as V;
  }
  return value;
}
