import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BothStores, recordedOnBothStores } from '../../test/helpers/both-stores.js';
import { addExtraOperations } from '../../test/helpers/extra-operations.js';
import { type PostgresServer, startPostgres } from '../../test/helpers/postgres.js';
import { rulesSchema } from '../config.js';
import { observedOperations as sqliteObserved } from '../store/queries/detection.js';
import { idleRecorderStats } from '../store/recorder.js';
import * as schema from '../store/schema/index.js';
import * as pgSchema from '../store/schema-pg/index.js';
import { createDetection } from './detection.js';
import { createPgDetection } from './pg-detection.js';

// Differential: the leader's detection on PostgreSQL restores and answers exactly what SQLite's does over the
// same rows (a recording copied by migrate-store): the windows and recent cycles replayed up to the derivation
// cursor, the escrow count before them, and the stuck identities with their samples, at several `now`s, with
// the default replay and with one shorter than the history, and after the same further operations.

const MIN = 60_000;
const rules = rulesSchema.parse({ credentialsConsecutive: 3, debounceSeconds: 0, recoverySeconds: 60 });
const cycleIntervalMs = 40 * MIN;

let server: PostgresServer;
let both: BothStores;
/** the recording's last operation's time */
let end: number;
/** the operations after the recorded ones, written to both stores and not derived */
let further: ReturnType<typeof sqliteObserved>;

/** Failing streaks written alike to both stores: ties, a null start, a deleted one, a missing sample. */
const streaks: {
  id: number;
  streak: number;
  since: number | null;
  deleted?: boolean;
  errorOp: number | null;
}[] = [
  { id: 1, streak: 5, since: 1_736_934_000_000, errorOp: 100 },
  { id: 2, streak: 5, since: 1_736_934_000_000, errorOp: 200 },
  { id: 3, streak: 5, since: null, errorOp: null },
  { id: 4, streak: 3, since: 1_736_930_000_000, errorOp: 99_999 },
  { id: 5, streak: 7, since: 1_736_940_000_000, errorOp: 300, deleted: true },
  { id: 6, streak: 2, since: 1_736_930_000_000, errorOp: 10 },
  { id: 7, streak: 3, since: 1_736_930_000_000, errorOp: 50 },
  { id: 9, streak: 3, since: 1_736_930_000_000, errorOp: 60 },
];

async function addStuck(b: BothStores): Promise<void> {
  for (const s of streaks) {
    const set = { failingStreak: s.streak, failingSince: s.since, lastErrorOperationId: s.errorOp };
    const row = { ...set, deleted: s.deleted ?? false };
    b.sqlite.update(schema.identities).set(row).where(eq(schema.identities.id, s.id)).run();
    await b.pg.update(pgSchema.identities).set(row).where(eq(pgSchema.identities.id, s.id));
  }
  // A healthy cycle before the replayed ones: the escrow count starts after it.
  b.sqlite.update(schema.cycles).set({ failures: 0 }).where(eq(schema.cycles.id, 4)).run();
  await b.pg.update(pgSchema.cycles).set({ failures: 0 }).where(eq(pgSchema.cycles.id, 4));
}

beforeAll(async () => {
  server = await startPostgres();
  both = await recordedOnBothStores(server, { cycles: 24, perCycle: 20 });
  await addStuck(both);
  const last = both.sqlite.get<{ id: number; time: number }>(
    sql`select max(id) as id, max(time) as time from operations`,
  );
  end = last.time;
  await addExtraOperations(both);
  further = sqliteObserved(both.sqlite, last.id + 1, Number.MAX_SAFE_INTEGER);
}, 120_000);
afterAll(async () => {
  await both?.close();
  await server?.stop();
});

const nows = () => [end + 1, end + 10 * MIN, end + 2 * 60 * MIN, end + 24 * 60 * MIN];

async function compare(replayLimit: number | undefined): Promise<void> {
  const sqlite = createDetection({ db: both.sqlite, rules, cycleIntervalMs, replayLimit });
  const pg = await createPgDetection({ pool: both.pool, rules, cycleIntervalMs, replayLimit });
  for (const now of nows()) {
    const expected = sqlite.input(now, idleRecorderStats());
    expect(await pg.input(now, idleRecorderStats()), `now ${now}`).toEqual(expected);
  }
  for (const op of further) {
    sqlite.observe(op);
    pg.observe(op);
  }
  for (const now of nows().map((t) => t + 5 * MIN)) {
    expect(await pg.input(now, idleRecorderStats()), `after further, now ${now}`).toEqual(
      sqlite.input(now, idleRecorderStats()),
    );
  }
}

describe('createPgDetection', () => {
  it('the recording has what the comparison needs: more cycles than kept, stuck identities, further rows', () => {
    const input = createDetection({ db: both.sqlite, rules, cycleIntervalMs }).input(
      end + 1,
      idleRecorderStats(),
    );
    // the recording's own two stuck users first (streak 8), then ties by failing_since (null first), then by id
    expect(input.stuck.map((s) => s.key)).toEqual([
      'id:8',
      'id:43',
      'id:3',
      'id:1',
      'id:2',
      'id:4',
      'id:7',
      'id:9',
    ]);
    expect(input.stuck.filter((s) => s.lastSample !== null)).toHaveLength(4);
    expect(input.sinceHealthy.failures).toBeGreaterThan(0);
    expect(input.cycles.length).toBeGreaterThan(1);
    expect(further.length).toBeGreaterThan(100);
    // a shorter replay restores less: the comparisons below with one say something
    const short = createDetection({ db: both.sqlite, rules, cycleIntervalMs, replayLimit: 50 });
    expect(short.input(end + 1, idleRecorderStats())).not.toEqual(input);
  });

  it('with the cursor migrate-store converted (txid:id): the same input, default replay', async () => {
    expect(await cursor()).toMatch(/^\d+:\d+$/);
    await compare(undefined);
  });

  it('with the cursor migrate-store copied: the same input, a replay shorter than the history', async () => {
    await compare(50);
    await compare(1);
    await compare(0);
  });

  it('with a bare id for a cursor (a copy made before migrate-store converted it): the same input', async () => {
    const copied = await cursor();
    await setCursor(copied.split(':')[1] as string);
    try {
      await compare(undefined);
      await compare(50);
    } finally {
      await setCursor(copied);
    }
  });
});

async function cursor(): Promise<string> {
  const { rows } = await both.pool.query<{ value: string }>(
    "select value from meta where key = 'derivation.cursor'",
  );
  return rows[0]?.value ?? '';
}

async function setCursor(value: string): Promise<void> {
  await both.pool.query("update meta set value = $1 where key = 'derivation.cursor'", [value]);
}
