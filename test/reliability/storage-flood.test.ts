import { statSync } from 'node:fs';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream } from '../helpers/http.js';
import { startTestScimtap } from '../helpers/scimtap.js';
import { request, until } from './lib.js';

// Storage cannot be flooded (issue 10 §6). On main, 5,898 lookups with unique 8 KB userNames grew the database
// by 461 MB in 20 s (~78 KB each: the name sat in the row, its indexes, the search terms and the identity
// rollup) and the WAL passed 1 GB. Here the same shape of flood goes through the real listeners with a small
// SCIMTAP_MAX_DB_MB: stored fields are capped, the oldest bodies then operations are pruned, the WAL is truncated.

const MB = 1024 * 1024;
const BUDGET_MB = 8;
const FLOOD = 2_400;
const STEADY = 400;
// An 8 KB name makes a filter past the parser's cap (4,096 characters): it is not parsed, so names no identity
// and costs less to store. The worst case is the longest name still parsed: it reaches the identity rollup and
// the search terms, capped.
const NAME_BYTES = 4_000;

const listResponse = (_r: unknown, res: http.ServerResponse) => {
  res.writeHead(200, { 'content-type': 'application/scim+json' });
  res.end(
    '{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":0,"Resources":[]}',
  );
};

let upstream: Awaited<ReturnType<typeof startUpstream>>;
let scimtap: Awaited<ReturnType<typeof startTestScimtap>>;

beforeAll(async () => {
  upstream = await startUpstream(listResponse);
  scimtap = await startTestScimtap(upstream.url, { SCIMTAP_MAX_DB_MB: String(BUDGET_MB) });
});
afterAll(async () => {
  agent.destroy();
  await scimtap?.stop();
  await upstream?.close();
});

/** What the disk holds for scimtap: the database file and its WAL. */
function onDisk() {
  const size = (p: string) => {
    try {
      return statSync(p).size;
    } catch {
      return 0;
    }
  };
  const file = size(scimtap.dbPath);
  const wal = size(`${scimtap.dbPath}-wal`);
  return { file, wal, total: file + wal };
}

let sent = 0;
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
/** `n` lookups, each with a unique userName of NAME_BYTES characters, 16 at a time. */
async function flood(n: number) {
  let next = 0;
  let failed = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < n) {
        next++;
        const i = sent++;
        const name = `${String(i).padStart(8, '0')}${'x'.repeat(NAME_BYTES - 8)}`;
        const res = await request(scimtap.proxyUrl, {
          path: `/Users?filter=userName+eq+%22${name}%22`,
          agent,
        });
        if (res.status !== 200) failed++;
      }
    }),
  );
  expect(failed).toBe(0);
  await until(() => scimtap.recorder.stats().queued === 0, 10_000, 'the queue to drain');
}

describe('a flood of lookups with unique long userNames', () => {
  it('stays within SCIMTAP_MAX_DB_MB: capped fields, then the oldest pruned and counted, WAL truncated', async () => {
    const start = onDisk();
    await flood(1_000);
    const capped = onDisk();
    const perThousand = (capped.total - start.total) / MB;
    console.log(
      `growth per 1,000 lookups with capped fields: ${perThousand.toFixed(2)} MB (file ${(capped.file / MB).toFixed(2)} MB + WAL ${(capped.wal / MB).toFixed(2)} MB)`,
    );
    // Uncapped, 1,000 such lookups cost ~78 MB (measured on main: 461 MB for 5,898).
    expect(perThousand).toBeLessThan(8);

    // Past the budget: sample what is on disk while the flood goes on.
    let peak = { file: 0, wal: 0, total: 0 };
    const sampler = setInterval(() => {
      const now = onDisk();
      if (now.total > peak.total) peak = now;
      peak.wal = Math.max(peak.wal, now.wal);
    }, 50);
    await flood(FLOOD - 1_000 - STEADY);
    // Once at the budget, what is freed is reused: the file stops growing.
    const atBudget = onDisk();
    await flood(STEADY);
    await until(
      async () => {
        const h = JSON.parse((await request(`${scimtap.adminUrl}/api/health`)).body.toString());
        return h.storage.operationsPruned > 0 && h;
      },
      10_000,
      'the budget to prune operations',
    );
    // Let a tick or two finish pruning and truncate the WAL.
    await new Promise((r) => setTimeout(r, 2_500));
    clearInterval(sampler);
    // Counted once the pass is over: a pass prunes operations, then the identities they leave without any, and a
    // reading taken in between (as soon as operations were pruned) showed none of the identities yet.
    const health = JSON.parse((await request(`${scimtap.adminUrl}/api/health`)).body.toString());
    const end = onDisk();
    console.log(
      `after ${FLOOD} lookups: ${(end.total / MB).toFixed(2)} MB on disk (peak ${(peak.total / MB).toFixed(2)} MB, WAL peak ${(peak.wal / MB).toFixed(2)} MB), budget ${BUDGET_MB} MB; growth over the last ${STEADY}: ${((end.total - atBudget.total) / MB).toFixed(2)} MB`,
    );
    console.log('health.storage', health.storage);
    // Within the budget plus a margin for the WAL written between two ticks.
    expect(peak.total).toBeLessThan(BUDGET_MB * MB * 1.25);
    expect(end.total).toBeLessThan(BUDGET_MB * MB * 1.1);
    expect(peak.wal).toBeLessThan(BUDGET_MB * MB * 0.5);

    // Bodies went first (oldest first), then the oldest operations, each counted.
    expect(health.storage.bodiesPruned).toBeGreaterThan(0);
    const sqlite = scimtap.db.$client;
    const oldest = sqlite.prepare('select min(id) from operations').pluck().get() as number;
    const oldestBody = sqlite.prepare('select min(operation_id) from bodies').pluck().get() as number;
    expect(oldest).toBeGreaterThan(1);
    expect(oldestBody).toBeGreaterThanOrEqual(oldest);
    expect(health.storage.bodiesPruned).toBeGreaterThanOrEqual(health.storage.operationsPruned);
    // Identities left without operations and their search terms went with them.
    expect(health.storage.identitiesPruned).toBeGreaterThan(0);
    expect(health.storage.termsPruned).toBeGreaterThan(0);
    // The recorder kept up: everything was written or pruned, nothing dropped.
    expect(health.recorder.dropped).toBe(0);
    expect(health.status).toBe('ok');
    const metrics = (await request(`${scimtap.adminUrl}/metrics`)).body.toString();
    expect(metrics).toMatch(/^scimtap_storage_pruned_operations_total\{app="default"\} [1-9]\d*$/m);
    expect(metrics).toMatch(/^scimtap_storage_pruned_bodies_total\{app="default"\} [1-9]\d*$/m);
    expect(metrics).toMatch(
      new RegExp(`^scimtap_storage_budget_bytes\\{app="default"\\} ${BUDGET_MB * MB}$`, 'm'),
    );
    expect(sqlite.pragma('integrity_check', { simple: true })).toBe('ok');
  }, 90_000);
});
