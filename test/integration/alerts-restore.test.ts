import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createAlertEngine } from '../../server/alerts/engine.js';
import { rulesSchema } from '../../server/config.js';
import { type Db, openDatabase } from '../../server/store/db.js';
import { writeCursor } from '../../server/store/derivation.js';
import { idleRecorderStats } from '../../server/store/recorder.js';

const T0 = Date.UTC(2025, 0, 6, 9, 0, 0);
const MIN = 60_000;
const quiet = idleRecorderStats();

/** `count` cycles, each a probe and `failures` failed updates (409), as the cycles stage would have stored them. */
function history(db: Db, count: number, failures: number): number {
  const sqlite = db.$client;
  const insertCycle =
    sqlite.prepare(`insert into cycles (started_at, ended_at, state, kind, probe_status, probe_outcome,
      total, successes, failures, counts_by_operation) values (?, ?, 'completed', 'incremental', 200, 'success', ?, 1, ?, ?)`);
  const insertOp =
    sqlite.prepare(`insert into operations (time, duration_ms, cycle_id, http_method, path, query,
      http_status, resource_type, operation, provisioning_action, status, identity_type, identity, error_code)
      values (?, 30, ?, ?, ?, ?, ?, 'User', ?, ?, ?, 'User', ?, ?)`);
  let t = T0;
  sqlite.transaction(() => {
    for (let c = 0; c < count; c++) {
      const counts = JSON.stringify({
        testConnection: { success: 1, failure: 0, warning: 0 },
        update: { success: 0, failure: failures, warning: 0 },
      });
      const id = Number(
        insertCycle.run(t, t + failures * 100, failures + 1, failures, counts).lastInsertRowid,
      );
      insertOp.run(
        t,
        id,
        'GET',
        '/scim/v2/Users',
        'filter=userName%20eq%20%22x%22',
        200,
        'testConnection',
        'other',
        'success',
        null,
        null,
      );
      for (let i = 0; i < failures; i++) {
        insertOp.run(
          t + i * 100,
          id,
          'PATCH',
          `/scim/v2/Users/u${i}`,
          '',
          409,
          'update',
          'update',
          'failure',
          `u${i}@example.com`,
          'EntryConflict',
        );
      }
      t += 40 * MIN;
    }
    // derived: the engine replays operations up to the derivation cursor
    writeCursor(db, Number(sqlite.prepare('select max(id) from operations').pluck().get()));
  })();
  return t;
}

describe('alert engine restore', () => {
  let db: Db;

  /** An alert engine over `db` whose clock reads `now`, with the default rules and no sender. */
  const engineAt = (now: number) =>
    createAlertEngine({
      db,
      config: {
        rules: rulesSchema.parse({}),
        cycleIntervalMin: 40,
        appName: 'App',
        notifyTo: [],
        smtpUrl: undefined,
        mailFrom: 'scimtap@example.com',
        adminToken: undefined,
      },
      clock: () => now,
      logger: pino({ level: 'silent' }),
      recorderStats: () => quiet,
      baseUrl: () => 'http://127.0.0.1:8081',
      sender: null,
    });
  afterEach(() => db?.$client.close());

  it('counts failures since the last healthy cycle beyond the replayed cycles, from the cycles table', () => {
    db = openDatabase(join(mkdtempSync(join(tmpdir(), 'scimtap-restore-')), 'db.sqlite'));
    // 20 failing cycles of 250: 5,000 failures, above the 4,000 warning level; the 16 replayed hold only 4,000.
    const now = history(db, 20, 250);
    const engine = engineAt(now);
    engine.evaluate(now);
    const escrow = engine.openIncidents().find((i) => i.rule === 'escrowTotal');
    expect(escrow).toBeDefined();
    expect(escrow!.evidence.count).toBe(5_000);
    expect(escrow!.severity).toBe('warning');
  });

  it('a healthy cycle among the older ones restarts the count there', () => {
    db = openDatabase(join(mkdtempSync(join(tmpdir(), 'scimtap-restore-')), 'db.sqlite'));
    history(db, 3, 250);
    // one clean cycle, then 17 failing ones: 17 × 250 = 4,250 since it
    db.$client
      .prepare(
        `insert into cycles (started_at, ended_at, state, kind, total, successes, failures) values (?, ?, 'completed', 'incremental', 5, 5, 0)`,
      )
      .run(T0 + 3 * 40 * MIN, T0 + 3 * 40 * MIN + 1000);
    const now = history(db, 17, 250);
    const engine = engineAt(now);
    engine.evaluate(now);
    expect(engine.openIncidents().find((i) => i.rule === 'escrowTotal')?.evidence.count).toBe(4_250);
  });
});
