import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppSummary } from '../../server/api/routes/apps.js';
import { loadConfig } from '../../server/config.js';
import { DRIFT_CLEAN_CYCLES } from '../../server/demo/drift.js';
import {
  DEMO_APPLICATION_ID,
  type Demo,
  type DemoAppId,
  prepareDemoDatabase,
  startDemo,
} from '../../server/demo/index.js';
import type { CycleInfo } from '../../server/demo/simulator/index.js';
import { probeDatabase } from '../../server/store/open.js';

// The demo with nothing configured (issue 14): three apps in one scimtap, each with its own target, its own
// simulated Entra job at its own Tenant URL, its own database and cycles; one of them drifts into escrow.

const IDS: DemoAppId[] = ['tanium', 'contoso-expenses', 'fabrikam-hr'];
const DRIFT_CYCLES = 9;

describe('demo mode: three apps in one scimtap', () => {
  let demo: Demo;
  let dir: string;
  let printed = '';
  const ends: Record<string, CycleInfo[]> = { tanium: [], 'contoso-expenses': [], 'fabrikam-hr': [] };
  // fabrikam-hr's state on /api/apps at the end of each of its cycles, by cycle
  const driftStates: string[] = [];

  async function fleet(): Promise<AppSummary[]> {
    return ((await (await fetch(`${demo.scimtap.adminUrl}/api/apps`)).json()) as { apps: AppSummary[] }).apps;
  }
  async function settle(): Promise<void> {
    for (const p of Object.values(demo.scimtap.apps)) {
      p.recorder.flush();
      await p.alerts.tick();
    }
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'scimtap-demo-apps-'));
    const config = loadConfig({
      SCIMTAP_LISTEN: '127.0.0.1:0',
      SCIMTAP_ADMIN_LISTEN: '127.0.0.1:0',
      SCIMTAP_DB: join(dir, 'demo.db'),
    });
    expect(config.mode).toBe('demo');
    let driftDone: () => void = () => {};
    const drifted = new Promise<void>((resolve) => {
      driftDone = resolve;
    });
    demo = await startDemo(config, {
      logger: pino({ level: 'silent' }),
      intervalMs: 40,
      users: 20,
      groups: 2,
      membersPerGroup: 4,
      rate: 0,
      apps: {
        'contoso-expenses': { users: 12, groups: 2, membersPerGroup: 3, rate: 0 },
        'fabrikam-hr': { users: 40, groups: 3, membersPerGroup: 5, rate: 0 },
      },
      print: (text) => {
        printed += text;
      },
      async onAppCycle(app, info) {
        if (info.phase !== 'end') return;
        ends[app]!.push(info);
        if (app !== 'fabrikam-hr' || info.cycle > DRIFT_CYCLES) return;
        // The job waits here: the state is read with this cycle recorded and judged, before the next starts.
        await settle();
        driftStates[info.cycle] = (await fleet()).find((a) => a.id === app)!.state;
        if (info.cycle === DRIFT_CYCLES) driftDone();
      },
    });
    await drifted;
    for (const app of Object.values(demo.apps)) app.simulator.stop();
    await Promise.all(Object.values(demo.apps).map((a) => a.done));
    await settle();
  }, 120_000);
  afterAll(async () => {
    await demo?.stop();
  });

  it('serves the three apps on /api/apps, each at its own Tenant URL, and lists them in the banner', async () => {
    const apps = await fleet();
    const byId = new Map(apps.map((a) => [a.id, a]));
    expect([...byId.keys()].sort()).toEqual([...IDS].sort());
    expect(byId.get('tanium')!.name).toBe('Tanium SSO (demo)');
    expect(byId.get('contoso-expenses')!.name).toBe('Contoso Expenses (demo)');
    expect(byId.get('fabrikam-hr')!.name).toBe('Fabrikam HR (demo)');
    for (const id of IDS) {
      expect(byId.get(id)!.tenantPath).toBe(`/${id}/`);
      expect(printed).toContain(`${byId.get(id)!.name}\n    Tenant URL   ${demo.scimtap.proxyUrl}/${id}/`);
      expect(printed).toContain(demo.apps[id]!.target.token);
    }
    expect(printed).toContain(`Dashboard    ${demo.scimtap.adminUrl}`);
  });

  it("records each app's traffic in its own database and cycles, reaching its own target", async () => {
    const identities = new Map<DemoAppId, Set<string>>();
    for (const id of IDS) {
      const app = demo.apps[id]!;
      const db = demo.scimtap.apps[id]!.db.$client;
      const sent = app.simulator.progress().requests;
      const recorded = db.prepare('select count(*) as n from operations').get() as { n: number };
      // every request of this app's job, and nothing else, is in this app's database
      expect(recorded.n).toBe(sent);
      const probes = db
        .prepare("select count(*) as n from operations where operation = 'testConnection'")
        .get() as {
        n: number;
      };
      expect(probes.n).toBe(ends[id]!.length);
      // the target answered them all (Tanium's also got the story's preexisting accounts, straight from the demo)
      expect(app.target.requests).toBeGreaterThanOrEqual(sent);
      if (id !== 'tanium') expect(app.target.requests).toBe(sent);
      expect(app.target.counts().users).toBeGreaterThan(0);
      const rows = db
        .prepare('select distinct identity from operations where identity is not null')
        .all() as {
        identity: string;
      }[];
      identities.set(id, new Set(rows.map((r) => r.identity)));
      const cycles = (await (
        await fetch(`${demo.scimtap.adminUrl}/api/cycles?app=${id}&limit=1000`)
      ).json()) as {
        items: { kind: string }[];
      };
      expect(cycles.items.some((c) => c.kind === 'initial')).toBe(true);
    }
    // three tenants' worth of users, none recorded under another app
    for (const a of IDS) {
      for (const b of IDS) {
        if (a < b) expect([...identities.get(a)!].filter((n) => identities.get(b)!.has(n))).toEqual([]);
      }
    }
  });

  it('keeps Contoso Expenses healthy: no failure in any cycle', async () => {
    expect(ends['contoso-expenses']!.length).toBeGreaterThanOrEqual(3);
    expect(ends['contoso-expenses']!.every((c) => c.failures === 0)).toBe(true);
    expect((await fleet()).find((a) => a.id === 'contoso-expenses')!.state).toBe('healthy');
  });

  it("lets Fabrikam HR's failure share grow cycle over cycle: healthy, then degraded, then over the escrow share", () => {
    const share = (n: number) => {
      const c = ends['fabrikam-hr']!.find((x) => x.cycle === n)!;
      return c.failures / c.requests;
    };
    for (let n = 1; n <= DRIFT_CLEAN_CYCLES; n++) expect(share(n)).toBe(0);
    const drifting = Array.from({ length: DRIFT_CYCLES - DRIFT_CLEAN_CYCLES }, (_, i) =>
      share(DRIFT_CLEAN_CYCLES + 1 + i),
    );
    expect(drifting[0]).toBeGreaterThan(0);
    expect(drifting[0]).toBeLessThan(0.4);
    // escrowed users are retried and refused again, so the share climbs (a cycle of many fresh changes may dip)
    for (let i = 2; i < drifting.length; i++) expect(drifting[i]).toBeGreaterThan(drifting[i - 2]!);
    expect(drifting.at(-1)).toBeGreaterThan(0.4);
    expect(driftStates[1]).toBe('healthy');
    const firstDegraded = driftStates.indexOf('degraded');
    const firstEscrow = driftStates.indexOf('quarantineSuspected');
    expect(firstDegraded).toBeGreaterThan(DRIFT_CLEAN_CYCLES);
    expect(firstEscrow).toBeGreaterThan(firstDegraded);
    expect(driftStates.slice(firstEscrow).every((s) => s === 'quarantineSuspected')).toBe(true);
  });

  it("marks each app's own file as the demo's, so the next demo resets each of them", async () => {
    await demo.stop();
    for (const id of IDS) {
      const path = join(dir, `demo-${id}.db`);
      expect(probeDatabase(path).applicationId).toBe(DEMO_APPLICATION_ID);
      prepareDemoDatabase(path);
      expect(existsSync(path)).toBe(false);
    }
  });
});
