import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fillOperations } from '../../bench/lib/fill.js';
import { entra, recorder } from '../../test/helpers/traffic.js';
import { type Db, openDatabase } from '../store/db.js';
import { prune } from '../store/prune.js';
import { getOperation } from '../store/queries/operations.js';
import { retentionCutoffs, retentionJob } from './retention.js';

const day = 86_400_000;
const now = Date.UTC(2025, 5, 30, 12, 0, 0);

describe('retentionCutoffs', () => {
  it.each([
    [
      { retentionDays: 90, bodyRetentionDays: 30 },
      now - 90 * day,
      now - 30 * day,
      'defaults: bodies go two months earlier',
    ],
    [{ retentionDays: 7, bodyRetentionDays: 7 }, now - 7 * day, now - 7 * day, 'same age: both go together'],
    [
      { retentionDays: 10, bodyRetentionDays: 30 },
      now - 10 * day,
      now - 10 * day,
      'bodies never outlive their operation',
    ],
    [{ retentionDays: 1, bodyRetentionDays: 1 }, now - day, now - day, 'a one-day window'],
  ])('%j → operations before %d, bodies before %d (%s)', (policy, operationsBefore, bodiesBefore) => {
    expect(retentionCutoffs(now, policy)).toEqual({ operationsBefore, bodiesBefore });
  });
});

describe('prune', () => {
  let dir: string;
  let db: Db;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'scimtap-retention-'));
    db = openDatabase(join(dir, 'scimtap.db'));
  });
  afterEach(() => {
    db.$client.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const count = (table: string, where = '1') =>
    (db.$client.prepare(`select count(*) as n from ${table} where ${where}`).get() as { n: number }).n;

  function seed() {
    // 4 months ago: enough rows (with bodies) that pruning them frees pages.
    fillOperations(db, { rows: 4_000, end: now - 120 * day, days: 3, bodiesSince: 0 });
    const write = recorder(db);
    const [oldCreate] = write([entra.createUser(now - 100 * day, 'old@example.com', 'u-old')]);
    const [midCreate, midUpdate] = write([
      entra.createUser(now - 40 * day, 'mid@example.com', 'u-mid'),
      entra.updateUser(now - 31 * day, 'u-mid', 'mid@example.com', 'Mid Two'),
    ]);
    const [newUpdate] = write([entra.updateUser(now - day, 'u-mid', 'mid@example.com', 'Mid Three')]);
    return { oldCreate, midCreate, midUpdate, newUpdate };
  }

  it('drops operations past retention, bodies past body retention, and keeps the rest', async () => {
    const { oldCreate, midCreate, midUpdate, newUpdate } = seed();
    expect(count('bodies', `operation_id = ${midCreate.id}`)).toBe(1);
    const r = await prune(db, retentionCutoffs(now, { retentionDays: 90, bodyRetentionDays: 30 }));

    expect(r.operations).toBe(4_001);
    expect(count('operations', `time < ${now - 90 * day}`)).toBe(0);
    expect(getOperation(db, oldCreate.id)).toBeNull();
    // 40 and 31 days old: metadata kept, bodies gone.
    for (const op of [midCreate, midUpdate]) {
      const kept = getOperation(db, op.id);
      expect(kept?.identity).toBe('mid@example.com');
      expect(kept?.requestBody).toBeNull();
      expect(kept?.responseBody).toBeNull();
    }
    expect(getOperation(db, newUpdate.id)?.requestBody).toContain('Mid Three');
    expect(count('operations')).toBe(3);
    expect(count('bodies')).toBe(1);
    expect(r.bodies).toBe(4_000 + 1 + 2);
  });

  it('forgets search terms only the pruned operations used', async () => {
    seed();
    await prune(db, retentionCutoffs(now, { retentionDays: 90, bodyRetentionDays: 30 }));
    const terms = db.$client.prepare("select value from operation_terms where field = 'identity'").all();
    expect(terms).toEqual([{ value: 'mid@example.com' }]);
    expect(count('operation_terms', "field = 'targetId'")).toBe(1);
  });

  it('hands the freed pages back to the file system (incremental vacuum, no VACUUM)', async () => {
    seed();
    const pages = () => db.$client.pragma('page_count', { simple: true }) as number;
    const before = pages();
    const r = await prune(db, retentionCutoffs(now, { retentionDays: 90, bodyRetentionDays: 30 }), {
      vacuumPages: 16,
    });
    expect(r.pagesFreed).toBeGreaterThan(50);
    expect(db.$client.pragma('freelist_count', { simple: true })).toBe(0);
    // The file shrank by what was freed (give or take a page the deletes themselves split).
    expect(pages()).toBeLessThanOrEqual(before - r.pagesFreed + 2);
  });

  it('works in small transactions and lets the recorder write between them', async () => {
    seed();
    const write = recorder(db);
    let pruning = true;
    let written = 0;
    // The recorder's flushes, as often as the event loop lets them run.
    const recording = (async () => {
      while (pruning) {
        write([entra.lookupUser(now, `live${written}@example.com`)]);
        written++;
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    const r = await prune(db, retentionCutoffs(now, { retentionDays: 90, bodyRetentionDays: 30 }), {
      batchRows: 200,
    });
    pruning = false;
    await recording;
    expect(r.batches).toBeGreaterThan(4_000 / 200);
    expect(written).toBeGreaterThan(10);
    expect(count('operations', "identity like 'live%'")).toBe(written);
    expect(count('operations', `time < ${now - 90 * day}`)).toBe(0);
  });

  it('stops between batches when aborted', async () => {
    seed();
    const abort = new AbortController();
    abort.abort();
    const r = await prune(db, retentionCutoffs(now, { retentionDays: 90, bodyRetentionDays: 30 }), {
      signal: abort.signal,
    });
    expect(r).toEqual({ operations: 0, bodies: 0, terms: 0, pagesFreed: 0, batches: 0 });
    expect(count('operations')).toBe(4_004);
  });

  it('runs as a job with the injected clock and logs what it pruned', async () => {
    seed();
    const lines: { msg: string; operations?: number }[] = [];
    const logger = pino({ level: 'info' }, { write: (s: string) => lines.push(JSON.parse(s)) });
    // The clock says 60 days later than `now`: the 40-day-old create is now 100 days old.
    const job = retentionJob({
      db,
      config: { retentionDays: 90, bodyRetentionDays: 30 },
      clock: () => now + 60 * day,
    });
    await job.run({ signal: new AbortController().signal, logger });
    expect(count('operations')).toBe(1);
    expect(lines.find((l) => l.msg.startsWith('retention'))?.operations).toBe(4_003);
  });
});
