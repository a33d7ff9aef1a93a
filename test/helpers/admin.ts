// The admin app as main.ts builds it, over a test database: the real alert engine (not started: no timers, no
// email), a healthy recorder and upstream unless the test says otherwise.
import { createAlertEngine } from '../../server/alerts/engine.js';
import { type AdminDeps, createAdminApp } from '../../server/api/index.js';
import { loadConfig } from '../../server/config.js';
import { sqliteAdminStore } from '../../server/store/admin-store.js';
import type { Db } from '../../server/store/db.js';
import { idleRecorderStats } from '../../server/store/recorder.js';

export const idleRecorder = idleRecorderStats;

export function testAdminApp(db: Db, overrides: Partial<AdminDeps> = {}) {
  const config = loadConfig({ SCIMTAP_UPSTREAM: 'http://127.0.0.1:9', SCIMTAP_DB: ':memory:' });
  const clock = overrides.clock ?? Date.now;
  const recorderStats = overrides.recorderStats ?? idleRecorder;
  const alerts = createAlertEngine({
    db,
    config,
    clock,
    logger: { info() {}, warn() {}, error() {} },
    recorderStats,
    baseUrl: () => 'http://127.0.0.1:8081',
    sender: null,
  });
  return createAdminApp({
    store: sqliteAdminStore(db),
    version: 'test',
    mode: 'proxy',
    recorderStats,
    upstreamState: () => 'reachable',
    config,
    clock,
    alerts,
    ...overrides,
  });
}
