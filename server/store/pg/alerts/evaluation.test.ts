import { drizzle } from 'drizzle-orm/node-postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PostgresServer, startPostgres } from '../../../../test/helpers/postgres.js';
import { createEvaluation, routedQueue } from '../../../alerts/evaluation.js';
import { createOpenIncidents } from '../../../alerts/open-incidents.js';
import { sqliteEvaluationStore } from '../../../alerts/ports.js';
import { receiverSchema, rulesSchema } from '../../../config.js';
import { createReceivers } from '../../../notify/receivers/index.js';
import { createRouting, UnknownReceiverError } from '../../../notify/routing.js';
import { openDatabase } from '../../db.js';
import * as sqliteQueries from '../../queries/incidents.js';
import * as schema from '../../schema/index.js';
import * as pgSchema from '../../schema-pg/index.js';
import { pgDatabase } from '../db.js';
import { migratePostgres } from '../migrate.js';
import { createPool, type Pool } from '../pool.js';
import { createSilence } from '../queries/incidents.js';
import { pgAcknowledge, pgQueueTest } from './acknowledge.js';
import { createPgEvaluation } from './evaluation.js';
import { type Script, scriptedInput } from './testing.js';
import { FencedError, takeAlertEpoch } from './write-back.js';

const T0 = Date.UTC(2025, 0, 6, 9, 0, 0);
const MIN = 60_000;
const rules = rulesSchema.parse({ debounceSeconds: 60, recoverySeconds: 300, reminderHours: 1 });
const ctx = () => ({ appName: 'Contoso HR', baseUrl: 'https://scimtap.example.com', adminTokenSet: true });
const receiverConfigs = [
  {
    ...receiverSchema.parse({ type: 'slack', url: 'https://hooks.slack.com/services/T0/B0/abcdefghijkl' }),
    name: 'slack',
  },
  { ...receiverSchema.parse({ type: 'pagerduty', routingKey: 'a'.repeat(32) }), name: 'pager' },
];
const routing = createRouting(
  { receivers: receiverConfigs, notifyTo: ['ops@example.com'], mailFrom: 'scimtap <alerts@example.com>' },
  createReceivers(receiverConfigs, { clock: () => T0 }),
);

const quiet: Script = { rejected: 0, status: 401, stuck: [] };
const stuckA = [{ name: 'alice@example.com', streak: 3 }];

interface Step {
  at: number;
  script: Script;
  notify?: boolean;
  /** a silence of the stuckObject rule, created on both stores before this step */
  silence?: boolean;
}

// credentials fires (debounced), changes reason, clears, flaps back, reminds, clears past recovery (once without
// notifying: deferred), resolves; stuckObject fires meanwhile, inhibited by it, then silenced; a pending
// credentials incident that clears before the debounce is dropped; stuckObject resolves untold.
const steps: Step[] = [
  { at: 0, script: { rejected: 3, status: 401, stuck: stuckA } },
  { at: 1.5, script: { rejected: 3, status: 401, stuck: stuckA } },
  { at: 3, script: { rejected: 4, status: 403, stuck: stuckA } },
  { at: 4, script: { ...quiet, stuck: stuckA } },
  { at: 5, script: { rejected: 3, status: 403, stuck: stuckA } },
  { at: 70, script: { rejected: 5, status: 403, stuck: stuckA } },
  { at: 71, script: { ...quiet, stuck: stuckA }, silence: true },
  { at: 77, script: { ...quiet, stuck: stuckA }, notify: false },
  { at: 78, script: { ...quiet, stuck: stuckA } },
  { at: 80, script: { rejected: 3, status: 401, stuck: stuckA } },
  { at: 80.5, script: { ...quiet, stuck: stuckA } },
  { at: 82, script: quiet },
  { at: 90, script: quiet },
];

const silence = (at: number) => ({
  rule: 'stuckObject' as const,
  identity: null,
  comment: 'known',
  createdBy: 'bob',
  createdAt: at,
  expiresAt: at + 120 * MIN,
});

/** Until a session of this database waits for a lock. */
async function waitForLockWait(pool: Pool): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const { rows } = await pool.query(
      `select 1 from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`,
    );
    if (rows.length > 0) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('nobody waited for the lock');
}

/** Rows as both stores hold them, less what is random (Message-IDs). */
const comparable = (rows: Record<string, unknown>[]) => rows.map(({ messageId: _m, ...rest }) => rest);

describe('alert evaluation on PostgreSQL', () => {
  let server: PostgresServer;
  const pools: Pool[] = [];
  const fresh = async () => {
    const pool = createPool(await server.createDatabase(), { max: 6 });
    pools.push(pool);
    await migratePostgres(pool);
    return pool;
  };
  const pgRows = async (pool: Pool) => {
    const db = drizzle(pool, { schema: pgSchema, casing: 'snake_case' });
    return {
      incidents: await db.select().from(pgSchema.incidents).orderBy(pgSchema.incidents.id),
      outbox: await db.select().from(pgSchema.outbox).orderBy(pgSchema.outbox.id),
    };
  };
  beforeAll(async () => {
    server = await startPostgres();
  });
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.end()));
    await server?.stop();
  });

  it('decides and writes exactly what SQLite does, step by step', async () => {
    const db = openDatabase(':memory:');
    const pool = await fresh();
    let script = quiet;
    const input = (now: number) => scriptedInput(script, now);
    const incidents = createOpenIncidents(() => sqliteQueries.loadOpenIncidents(db));
    const onSqlite = createEvaluation({ db, rules, incidents, input, queue: routedQueue(routing, ctx) });
    const epoch = await takeAlertEpoch(pool);
    // One id at a time: the first evaluation (two new incidents) runs out and is run again with more.
    const onPg = createPgEvaluation({ pool, rules, epoch, routing, emailContext: ctx, input, reserveIds: 1 });

    for (const step of steps) {
      const now = T0 + step.at * MIN;
      script = step.script;
      if (step.silence) {
        sqliteQueries.createSilence(db, silence(now));
        await createSilence(pgDatabase(pool), silence(now));
      }
      const expected = onSqlite(now, step.notify ?? true);
      expect(await onPg.evaluate(now, step.notify ?? true), `at ${step.at} min`).toEqual(expected);
      expect(onPg.open(), `open at ${step.at} min`).toEqual(incidents.list());
    }

    const pg = await pgRows(pool);
    const sqliteIncidents = db.select().from(schema.incidents).orderBy(schema.incidents.id).all();
    const sqliteOutbox = db.select().from(schema.outbox).orderBy(schema.outbox.id).all();
    expect(pg.incidents).toEqual(sqliteIncidents);
    expect(comparable(pg.outbox)).toEqual(comparable(sqliteOutbox));
    // The script did what it says: not a comparison of two empty tables.
    const email = sqliteOutbox.filter((r) => r.receiver === 'email').map((r) => `${r.incidentId}:${r.event}`);
    expect(email).toEqual(['1:first', '1:reasonChanged', '1:reminder', '1:resolved']);
    expect(new Set(sqliteOutbox.map((r) => r.receiver))).toEqual(new Set(['email', 'slack', 'pager']));
    expect(sqliteIncidents.map((i) => `${i.id}:${i.rule}:${i.state}`)).toEqual([
      '1:credentials:resolved',
      '2:stuckObject:resolved',
    ]);
    expect(sqliteIncidents[1]?.inhibitedBy).toBe('credentials');
    db.$client.close();
  });

  it('refuses the evaluation of a leader whose epoch was taken over; the next leader continues its incident', async () => {
    const pool = await fresh();
    let script: Script = { rejected: 3, status: 401, stuck: [] };
    const input = (now: number) => scriptedInput(script, now);
    const options = { pool, rules, routing, emailContext: ctx, input };
    const a = createPgEvaluation({ ...options, epoch: await takeAlertEpoch(pool) });
    await a.evaluate(T0, true);
    const before = await pgRows(pool);
    expect(before.incidents.map((i) => i.state)).toEqual(['pending']);

    const e2 = await takeAlertEpoch(pool);
    script = { rejected: 4, status: 401, stuck: [] };
    await expect(a.evaluate(T0 + 2 * MIN, true)).rejects.toBeInstanceOf(FencedError);
    expect(await pgRows(pool)).toEqual(before);

    const b = createPgEvaluation({ ...options, epoch: e2 });
    const report = await b.evaluate(T0 + 2 * MIN, true);
    expect(report.emails).toEqual([{ incidentId: before.incidents[0]?.id, event: 'first' }]);
    const after = await pgRows(pool);
    expect(after.incidents.map((i) => `${i.id}:${i.state}`)).toEqual([`${before.incidents[0]?.id}:firing`]);
    expect(after.outbox.map((o) => `${o.receiver}:${o.event}`)).toEqual([
      'email:first',
      'slack:first',
      'pager:first',
    ]);
  });

  it("keeps an acknowledgement another replica wrote between the leader's evaluations", async () => {
    const pool = await fresh();
    let script: Script = { rejected: 3, status: 401, stuck: [] };
    const input = (now: number) => scriptedInput(script, now);
    const epoch = await takeAlertEpoch(pool);
    const leader = createPgEvaluation({ pool, rules, routing, emailContext: ctx, input, epoch });
    await leader.evaluate(T0, true);
    await leader.evaluate(T0 + 2 * MIN, true);
    const id = leader.open()[0]?.id as number;

    // The worst moment: after the leader read the incident, before its write-back. Holding the epoch's row stops
    // the leader at its fence, while another replica acknowledges.
    const holder = await pool.connect();
    await holder.query('begin');
    await holder.query(`select 1 from meta where key = 'alerts.epoch' for update`);
    script = { rejected: 6, status: 401, stuck: [] };
    const evaluating = leader.evaluate(T0 + 3 * 60 * MIN, true);
    await waitForLockWait(pool);
    const ack = { id, by: 'alice', comment: 'on it', now: T0 + 3 * 60 * MIN, ctx: ctx() };
    expect(await pgAcknowledge(pool, routing, ack)).toMatchObject({
      id,
      acknowledgedBy: 'alice',
      state: 'firing',
    });
    await holder.query('commit');
    holder.release();
    // It read the incident unacknowledged: a reminder, and an UPDATE (new evidence) that leaves the ack alone.
    expect((await evaluating).emails).toEqual([{ incidentId: id, event: 'reminder' }]);
    let rows = await pgRows(pool);
    expect(rows.incidents[0]).toMatchObject({
      acknowledgedAt: ack.now,
      acknowledgedBy: 'alice',
      ackComment: 'on it',
    });
    expect(JSON.parse(rows.incidents[0]?.evidence ?? '{}').count).toBe(6);

    // A second acknowledgement changes nothing and tells nobody again.
    await pgAcknowledge(pool, routing, { ...ack, by: 'carol', comment: null, now: ack.now + MIN });
    // The next evaluation takes the acknowledgement from the row: past the reminder, it stays quiet.
    script = { rejected: 7, status: 401, stuck: [] };
    expect((await leader.evaluate(T0 + 5 * 60 * MIN, true)).emails).toEqual([]);
    expect(leader.open()[0]).toMatchObject({ acknowledgedBy: 'alice', ackComment: 'on it' });
    rows = await pgRows(pool);
    expect(rows.incidents[0]).toMatchObject({ acknowledgedBy: 'alice', ackComment: 'on it' });
    expect(JSON.parse(rows.incidents[0]?.evidence ?? '{}').count).toBe(7);
    // PagerDuty, told it fired, hears of the acknowledgement once (and of no reminder: it escalates itself);
    // Slack does not track acknowledgements.
    expect(rows.outbox.map((o) => `${o.receiver}:${o.event}:${o.sequence}`)).toEqual([
      'email:first:1',
      'slack:first:1',
      'pager:first:1',
      'pager:acknowledged:1',
      'email:reminder:1',
      'slack:reminder:1',
    ]);
  });

  it('queues a test notification as SQLite does; an unknown receiver writes nothing', async () => {
    const db = openDatabase(':memory:');
    const pool = await fresh();
    for (const receiver of ['email', 'slack', 'pager']) {
      const sqliteId = routing.queueTest(sqliteEvaluationStore(db), receiver, ctx(), T0, 'bob');
      expect(await pgQueueTest(pool, routing, receiver, ctx(), T0, 'bob')).toBe(sqliteId);
    }
    await expect(pgQueueTest(pool, routing, 'nobody', ctx(), T0, null)).rejects.toBeInstanceOf(
      UnknownReceiverError,
    );
    const sqliteOutbox = db.select().from(schema.outbox).orderBy(schema.outbox.id).all();
    expect(sqliteOutbox.map((r) => `${r.receiver}:${r.event}:${r.sequence}`)).toEqual([
      `email:test:${T0}`,
      `slack:test:${T0}`,
      `pager:test:${T0}`,
    ]);
    expect(comparable((await pgRows(pool)).outbox)).toEqual(comparable(sqliteOutbox));
    db.$client.close();
  });
});
