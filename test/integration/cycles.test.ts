import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CycleInfo, createSimulator, type SimulatorSummary } from '../../server/demo/simulator/index.js';
import { mulberry32 } from '../../server/demo/simulator/random.js';
import { startTarget, type Target } from '../../server/demo/target/index.js';
import { startTestScimtap } from '../helpers/scimtap.js';

// The whole path: the Entra-like simulator → scimtap's proxy → classify → the cycle stage → /api/status,
// /api/cycles and /api/identities, read while the simulator runs and after.

// biome-ignore lint/suspicious/noExplicitAny: response bodies are read loosely; each field read is asserted
type Body = any;

describe('cycles and identities from simulated Entra traffic', () => {
  let target: Target;
  let scimtap: Awaited<ReturnType<typeof startTestScimtap>>;
  let summary: SimulatorSummary;
  const cycleEnds: CycleInfo[] = [];
  /** /api/status as read at the end of each simulated cycle, before the next one starts */
  const statusDuring: Body[] = [];

  const api = async (path: string) => {
    const res = await fetch(`${scimtap.adminUrl}/api${path}`);
    expect(res.status, path).toBe(200);
    return (await res.json()) as Body;
  };

  beforeAll(async () => {
    target = await startTarget({ port: 0, faults: { errorRate: 0.03, random: mulberry32(5) } });
    scimtap = await startTestScimtap(target.url, { SCIMTAP_LOG_LEVEL: 'silent' });
    const simulator = createSimulator({
      target: scimtap.proxyUrl,
      token: target.token,
      users: 40,
      groups: 4,
      membersPerGroup: 5,
      cycles: 3,
      intervalMs: 0,
      rate: 0,
      seed: 11,
      churn: 4,
      async onCycle(info) {
        if (info.phase !== 'end') return;
        cycleEnds.push(info);
        scimtap.recorder.flush();
        statusDuring.push(await api('/status'));
      },
    });
    summary = await simulator.run();
    scimtap.recorder.flush();
  });
  afterAll(async () => {
    await scimtap?.stop();
    await target?.close();
  });

  it('shows the cycle as running in /api/status while the simulator runs', () => {
    expect(statusDuring).toHaveLength(3);
    const first = statusDuring[0];
    expect(first).toMatchObject({
      running: true,
      cycle: {
        id: 1,
        kind: 'initial',
        state: 'running',
        total: cycleEnds[0].requests,
        failures: cycleEnds[0].failures,
      },
    });
    expect(['healthy', 'degraded', 'atRisk']).toContain(first.state);
    expect(first.cycle.progress).toMatchObject({ processed: 44, expected: null });
    // the next cycle opens at its probe and closes the previous one
    expect(statusDuring[1].cycle).toMatchObject({ id: 2, state: 'running', total: cycleEnds[1].requests });
    expect(statusDuring[2].cycle).toMatchObject({ id: 3, state: 'running', total: cycleEnds[2].requests });
  });

  it('records one cycle per simulated cycle with the same counts', async () => {
    const { items } = await api('/cycles');
    expect(items.map((c: Body) => c.id)).toEqual([3, 2, 1]);
    const oldestFirst = [...items].reverse();
    for (let i = 0; i < 3; i++) {
      expect(oldestFirst[i]).toMatchObject({ total: cycleEnds[i].requests, failures: cycleEnds[i].failures });
    }
    expect(oldestFirst.slice(1).map((c: Body) => c.kind)).toEqual(['incremental', 'incremental']);
    expect(items.reduce((n: number, c: Body) => n + c.total, 0)).toBe(summary.requests);
    const detail = await api('/cycles/1');
    expect(detail.probe).toMatchObject({ status: 'success', httpStatus: 200 });
    expect(detail.latency.p95Ms).toEqual(expect.any(Number));
  });

  it('knows every user and group the simulator provisioned, and which ones are failing', async () => {
    const users = await api('/identities?type=User&limit=1000');
    const groups = await api('/identities?type=Group&limit=1000');
    expect(users.items.length).toBeGreaterThanOrEqual(40);
    expect(groups.items).toHaveLength(4);
    // users the simulator created are keyed by the id the target gave them
    const linked = users.items.filter((u: Body) => u.targetId !== null && u.key === u.targetId);
    expect(linked.length).toBeGreaterThanOrEqual(40 - summary.pending.users);
    const group = await api(`/identities/${groups.items[0].id}`);
    expect(group.memberships.role).toBe('members');
    expect(group.timeline.items.length).toBeGreaterThan(0);
    const failing = await api('/identities?failing=true&limit=1000');
    for (const f of failing.items) expect(f.lastStatus).toBe('failure');
  });
});
