import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config.js';
import { type Demo, startDemo } from '../../server/demo/index.js';
import type { CycleInfo } from '../../server/demo/simulator/index.js';

interface Row {
  id: number;
  operation: string;
  status: string;
  httpStatus: number | null;
  identity: string | null;
}

describe('demo mode: the scripted story through the real proxy path', () => {
  let demo: Demo;
  let printed = '';
  const cycles: CycleInfo[] = [];
  // Row id of each cycle's probe, to cut the recorded operations into cycles.
  const firstRowOfCycle = new Map<number, number>();
  let reachedCycle: (n: number) => Promise<void>;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'scimtap-demo-'));
    const config = loadConfig({
      SCIMTAP_LISTEN: '127.0.0.1:0',
      SCIMTAP_ADMIN_LISTEN: '127.0.0.1:0',
      SCIMTAP_DB: join(dir, 'demo.db'),
    });
    expect(config.mode).toBe('demo');
    const waiters: { n: number; resolve: () => void }[] = [];
    reachedCycle = (n) =>
      new Promise((resolve) => {
        if (cycles.some((c) => c.phase === 'end' && c.cycle >= n)) resolve();
        else waiters.push({ n, resolve });
      });
    demo = await startDemo(config, {
      logger: pino({ level: 'silent' }),
      // Compressed further than the real demo's 60 s so the whole story plays in a few seconds.
      intervalMs: 40,
      users: 60,
      groups: 3,
      membersPerGroup: 5,
      rate: 0,
      print: (text) => {
        printed += text;
      },
      onCycle(info) {
        cycles.push(info);
        if (info.phase === 'start') {
          demo?.scimtap.recorder.flush();
          const max = demo?.scimtap.db.$client.prepare('select max(id) as id from operations').get() as
            | { id: number | null }
            | undefined;
          firstRowOfCycle.set(info.cycle, (max?.id ?? 0) + 1);
        }
        for (const w of waiters.filter((x) => info.phase === 'end' && info.cycle >= x.n)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
      },
    });
    await reachedCycle(11);
    demo.scimtap.recorder.flush();
  });
  afterAll(async () => {
    await demo?.stop();
  });

  function rowsOfCycle(n: number): Row[] {
    const from = firstRowOfCycle.get(n)!;
    const to = firstRowOfCycle.get(n + 1) ?? Number.MAX_SAFE_INTEGER;
    return demo.scimtap.db.$client
      .prepare(
        'select id, operation, status, http_status as httpStatus, identity from operations where id >= ? and id < ? order by id',
      )
      .all(from, to) as Row[];
  }

  it('prints a banner with the dashboard URL and reports mode "demo" on /api/health', async () => {
    expect(printed).toContain(`Dashboard    ${demo.scimtap.adminUrl}`);
    expect(printed).toContain(demo.target.token);
    const health = (await (await fetch(`${demo.scimtap.adminUrl}/api/health?app=tanium`)).json()) as {
      mode: string;
      appName: string;
    };
    expect(health.mode).toBe('demo');
    // the demo plays a Tanium-like app and names it so, in the banner and on the dashboard
    expect(health.appName).toBe('Tanium SSO (demo)');
    expect(printed).toContain(`  Tanium SSO (demo)\n    Tenant URL   ${demo.scimtap.proxyUrl}/tanium/`);
  });

  it('records a complete initial cycle: lookups, creates, updates of existing accounts, groups and members', () => {
    const ops = new Set(rowsOfCycle(1).map((r) => r.operation));
    for (const op of ['testConnection', 'lookup', 'create', 'addMembers']) expect(ops).toContain(op);
    // The accounts the app already had are matched by userName and updated, not created.
    const initial = rowsOfCycle(1);
    const updated = initial.filter((r) => r.operation === 'update' && r.status === 'success');
    expect(updated.length).toBeGreaterThanOrEqual(4);
    for (const r of updated) {
      expect(initial.some((x) => x.operation === 'create' && x.identity === r.identity)).toBe(false);
    }
  });

  it('has no 401 before cycle 4; the token expires during cycle 4 and the probe of cycle 5 is refused', () => {
    for (let n = 1; n <= 3; n++) expect(rowsOfCycle(n).filter((r) => r.httpStatus === 401)).toEqual([]);
    const fourth = rowsOfCycle(4);
    expect(fourth[0]!.operation).toBe('testConnection');
    expect(fourth[0]!.httpStatus).toBe(200);
    // From the moment the token expires, every call of the cycle is refused: users and groups, not just one.
    const expiredFrom = fourth.findIndex((r) => r.httpStatus === 401);
    expect(expiredFrom).toBeGreaterThan(0);
    const unauthorized = fourth.slice(expiredFrom);
    expect(unauthorized.length).toBeGreaterThanOrEqual(2);
    expect(unauthorized.every((r) => r.httpStatus === 401 && r.status === 'failure')).toBe(true);
    const fifth = rowsOfCycle(5);
    expect(fifth.map((r) => [r.operation, r.httpStatus])).toEqual([['testConnection', 401]]);
  });

  it('recovers in cycle 6: no 401 and the escrowed changes go through', () => {
    const sixth = rowsOfCycle(6);
    expect(sixth.filter((r) => r.httpStatus === 401)).toEqual([]);
    expect(sixth.filter((r) => r.status === 'success').length).toBeGreaterThan(1);
  });

  it('two users always conflict with 409', () => {
    const conflicts = new Set<string>();
    for (let n = 1; n <= 10; n++) {
      for (const r of rowsOfCycle(n)) if (r.httpStatus === 409 && r.identity) conflicts.add(r.identity);
    }
    expect(conflicts.size).toBe(2);
  });

  it('disables many users in cycle 7 and enables them again in cycle 10', () => {
    const disables = rowsOfCycle(7).filter((r) => r.operation === 'disable').length;
    expect(disables).toBeGreaterThanOrEqual(Math.round(60 * 0.35) - 2);
    expect(rowsOfCycle(10).filter((r) => r.operation === 'enable').length).toBeGreaterThanOrEqual(
      disables - 3,
    );
  });

  it('keeps cycling after the story ends: cycle 11 starts it over without a token problem', () => {
    const eleventh = cycles.find((c) => c.cycle === 11 && c.phase === 'end')!;
    expect(eleventh.kind).toBe('incremental');
    expect(eleventh.aborted).toBeNull();
    expect(demo.target.faults.tokenExpired).toBe(false);
  });
});
