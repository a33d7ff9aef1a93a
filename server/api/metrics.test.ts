import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { describe, expect, it } from 'vitest';
import { testAdminApp } from '../../test/helpers/admin.js';
import { entra, recorder } from '../../test/helpers/traffic.js';
import { loadConfig } from '../config.js';
import { createCycleStage } from '../cycles/index.js';
import { type Db, openDatabase } from '../store/db.js';
import type { StoredOperation } from '../store/ingest.js';
import type { RecorderStats } from '../store/recorder.js';
import { createMetrics, createMetricsRegistry } from './metrics.js';

const stats: RecorderStats = {
  queued: 7,
  written: 120,
  dropped: 3,
  writeErrors: 1,
  failing: false,
  lastError: null,
  lastErrorAt: null,
  lastDropAt: null,
};

async function scrape(db: Db, recorderStats = () => stats, adminToken?: string, token?: string) {
  const metrics = createMetrics({ recorderStats, db });
  const app = testAdminApp(db, { adminToken, recorderStats, metrics: metrics.render });
  return {
    metrics,
    get: () => app.request('/metrics', token ? { headers: { authorization: `Bearer ${token}` } } : {}),
  };
}

/** The value of one sample line, e.g. `scimtap_cycles 3`. */
function sample(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  if (!line) throw new Error(`no sample ${name} in:\n${text}`);
  return Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('GET /metrics', () => {
  it('counts requests by resource/operation/status, a latency histogram, the recorder, cycles and failing identities', async () => {
    const db = openDatabase(':memory:');
    const config = loadConfig({ SCIMTAP_UPSTREAM: 'http://127.0.0.1:9', SCIMTAP_DB: ':memory:' });
    const t0 = Date.UTC(2025, 0, 15, 9);
    const { metrics, get } = await scrape(db);
    const write = recorder(db, [createCycleStage({ db, config, clock: () => t0 }), metrics.stage]);
    write([
      entra.lookupUser(t0, 'ada@example.com'),
      entra.createUser(t0 + 1_000, 'ada@example.com', 'u-1'),
      entra.createConflict(t0 + 2_000, 'bob@example.com'),
      entra.throttled(t0 + 3_000, 'u-1'),
    ]);
    // A second cycle after a silence longer than rules.cycleGapMinutes.
    write([entra.createConflict(t0 + 3_600_000, 'bob@example.com')]);

    const res = await get();
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    expect(text).toContain(
      'scimtap_operations_total{app="default",resource_type="User",operation="create",status="failure"} 2',
    );
    expect(text).toContain(
      'scimtap_operations_total{app="default",resource_type="User",operation="lookup",status="success"} 1',
    );
    expect(text).toContain(
      'scimtap_operations_total{app="default",resource_type="User",operation="update",status="failure"} 1',
    );
    expect(text).toMatch(
      /scimtap_upstream_duration_seconds_bucket\{le="0\.05",app="default",resource_type="User",operation="create"\} 3/,
    );
    expect(sample(text, 'scimtap_recorder_queue_depth')).toBe(7);
    expect(sample(text, 'scimtap_recorder_dropped_total')).toBe(3);
    const cycles = db.$client.prepare('select count(*) as n from cycles').pluck().get() as number;
    expect(cycles).toBeGreaterThanOrEqual(2);
    expect(sample(text, 'scimtap_cycles')).toBe(cycles);
    expect(sample(text, 'scimtap_identities_failing')).toBe(
      db.$client.prepare('select count(*) from identities where failing_streak > 0').pluck().get(),
    );

    // The gauges are read at scrape time, from the rollups.
    db.$client.exec('update identities set failing_streak = 3');
    const identities = db.$client.prepare('select count(*) from identities').pluck().get() as number;
    expect(identities).toBeGreaterThanOrEqual(2);
    expect(sample(await (await get()).text(), 'scimtap_identities_failing')).toBe(identities);
    db.$client.close();
  });

  it('reads 0 while the cycles and identities tables do not exist, and picks them up once they do', async () => {
    const sqlite = new Database(':memory:');
    const db = drizzle(sqlite) as unknown as Db;
    // Read from the registry itself: no admin app (nor its incident engine) runs over a database this bare.
    const metrics = createMetrics({ recorderStats: () => stats, db });
    const get = async () => (await metrics.render()).body;
    let text = await get();
    expect(sample(text, 'scimtap_cycles')).toBe(0);
    expect(sample(text, 'scimtap_identities_failing')).toBe(0);
    expect(sample(text, 'scimtap_cycle_running')).toBe(0);
    sqlite.exec(`create table cycles (id integer primary key, state text);
      insert into cycles (state) values ('completed'), ('completed'), ('running');
      create table identities (id integer primary key, failing_streak integer);
      insert into identities (failing_streak) values (0), (1), (4);`);
    text = await get();
    expect(sample(text, 'scimtap_cycles')).toBe(3);
    expect(sample(text, 'scimtap_cycle_running')).toBe(1);
    expect(sample(text, 'scimtap_identities_failing')).toBe(2);
    sqlite.close();
  });

  it('requires the admin token when one is set', async () => {
    const db = openDatabase(':memory:');
    const token = 'a-long-admin-token-0123456789';
    expect((await (await scrape(db, () => stats, token)).get()).status).toBe(401);
    expect((await (await scrape(db, () => stats, token, 'wrong-token-0123456789')).get()).status).toBe(401);
    expect((await (await scrape(db, () => stats, token, token)).get()).status).toBe(200);
    db.$client.close();
  });
});

describe('an app removed from the registry', () => {
  const op = (resourceType: string, operation: string, status: string) =>
    ({ resourceType, operation, status, durationMs: 12 }) as StoredOperation;
  /** the sample lines labelled with app `id` */
  const seriesOf = (text: string, id: string) =>
    text.split('\n').filter((l) => !l.startsWith('#') && l.includes(`app="${id}"`));

  it('leaves no series labelled with it, operations and latency included, while the others stay', async () => {
    const registry = createMetricsRegistry();
    const a = registry.forApp('a', { recorderStats: () => stats });
    const b = registry.forApp('b', { recorderStats: () => stats });
    a.stage.afterCommit?.([op('User', 'create', 'success'), op('User', 'lookup', 'failure')]);
    a.stage.afterCommit?.([op('Group', 'update', 'success')]);
    b.stage.afterCommit?.([op('User', 'create', 'success')]);
    let text = (await registry.render()).body;
    expect(seriesOf(text, 'a').some((l) => l.startsWith('scimtap_operations_total'))).toBe(true);
    expect(seriesOf(text, 'a').some((l) => l.startsWith('scimtap_upstream_duration_seconds'))).toBe(true);

    registry.removeApp('a');
    // What a's recorder flushes while it closes is not counted back in.
    a.stage.afterCommit?.([op('User', 'create', 'success')]);
    text = (await registry.render()).body;
    expect(seriesOf(text, 'a')).toEqual([]);
    expect(text).toContain(
      'scimtap_operations_total{app="b",resource_type="User",operation="create",status="success"} 1',
    );
    expect(seriesOf(text, 'b').some((l) => l.startsWith('scimtap_recorder_queue_depth'))).toBe(true);
  });

  it('counts from zero when the app starts again (a replace), with one series per label set', async () => {
    const registry = createMetricsRegistry();
    const old = registry.forApp('a', { recorderStats: () => stats });
    old.stage.afterCommit?.([op('User', 'create', 'success'), op('User', 'create', 'success')]);
    registry.removeApp('a');
    const again = registry.forApp('a', { recorderStats: () => ({ ...stats, queued: 2 }) });
    again.stage.afterCommit?.([op('User', 'create', 'success')]);
    const text = (await registry.render()).body;
    const created = seriesOf(text, 'a').filter((l) =>
      l.startsWith('scimtap_operations_total{app="a",resource_type="User",operation="create"'),
    );
    expect(created).toEqual([
      'scimtap_operations_total{app="a",resource_type="User",operation="create",status="success"} 1',
    ]);
    expect(seriesOf(text, 'a').filter((l) => l.startsWith('scimtap_recorder_queue_depth'))).toEqual([
      'scimtap_recorder_queue_depth{app="a"} 2',
    ]);
    expect(
      seriesOf(text, 'a').filter((l) => l.startsWith('scimtap_upstream_duration_seconds_count')),
    ).toEqual(['scimtap_upstream_duration_seconds_count{app="a",resource_type="User",operation="create"} 1']);
  });
});
