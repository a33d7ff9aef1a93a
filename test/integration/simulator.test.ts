import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createSimulator,
  type SimulatorLogEntry,
  type SimulatorOptions,
} from '../../server/demo/simulator/index.js';
import { mulberry32 } from '../../server/demo/simulator/random.js';
import { startTarget, type Target } from '../../server/demo/target/index.js';
import { startTestScimtap } from '../helpers/scimtap.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** A fresh target whose fault dice are seeded, so that the same seed gives the same answers. */
async function seededTarget(conflicts: string[] = []): Promise<Target> {
  return startTarget({
    port: 0,
    faults: { errorRate: 0.04, conflictUserNames: conflicts, random: mulberry32(99) },
  });
}

const small: Omit<SimulatorOptions, 'target' | 'token'> = {
  users: 30,
  groups: 4,
  membersPerGroup: 6,
  cycles: 5,
  intervalMs: 0,
  rate: 0,
  seed: 42,
  // A busy tenant, so that a few cycles show every kind of change.
  churn: 4,
};

/** The third user the seed creates: the target is told to refuse it (409) forever. */
const conflict = createSimulator({ target: 'http://127.0.0.1:9', token: 't', ...small }).userNames()[2]!;

async function runAgainst(target: Target, options: Partial<SimulatorOptions> = {}) {
  const log: SimulatorLogEntry[] = [];
  const simulator = createSimulator({
    target: target.url,
    token: target.token,
    ...small,
    ...options,
    onOperation: (e) => log.push(e),
  });
  const summary = await simulator.run();
  return { log, summary, simulator };
}

/** Target ids are random UUIDs minted by the target: number them in order of appearance to compare runs. */
function normalise(log: SimulatorLogEntry[]) {
  const ids = new Map<string, string>();
  const alias = (id: string) => {
    if (!ids.has(id)) ids.set(id, `#${ids.size + 1}`);
    return ids.get(id)!;
  };
  return log.map((e) => {
    const targetId = e.targetId === null ? null : alias(e.targetId);
    let path = e.path;
    for (const [id, a] of ids) path = path.replaceAll(id, a);
    return { ...e, targetId, path };
  });
}

describe('simulator against the target directly', () => {
  let first: Awaited<ReturnType<typeof runAgainst>>;
  let second: Awaited<ReturnType<typeof runAgainst>>;
  const targets: Target[] = [];

  beforeAll(async () => {
    for (let i = 0; i < 2; i++) targets.push(await seededTarget([conflict]));
    first = await runAgainst(targets[0]!);
    second = await runAgainst(targets[1]!);
  });
  afterAll(async () => {
    await Promise.all(targets.map((t) => t.close()));
  });

  it('is deterministic for a seed: two runs send the same requests and log the same outcomes', () => {
    expect(first.log.length).toBeGreaterThan(100);
    expect(normalise(second.log)).toEqual(normalise(first.log));
    expect(second.summary.byKind).toEqual(first.summary.byKind);
  });

  it('a different seed makes different traffic', async () => {
    const target = await seededTarget();
    try {
      const other = await runAgainst(target, { seed: 43, cycles: 1 });
      const names = (log: SimulatorLogEntry[]) =>
        log.filter((e) => e.kind === 'create').map((e) => e.identity);
      expect(names(other.log)).not.toEqual(names(first.log.filter((e) => e.cycle === 1)));
    } finally {
      await target.close();
    }
  });

  it('starts every cycle with the GUID probe, and runs the initial cycle as lookups, creates, then groups', () => {
    for (let cycle = 1; cycle <= 5; cycle++) {
      const entries = first.log.filter((e) => e.cycle === cycle);
      expect(entries[0]!.kind).toBe('testConnection');
      expect(entries[0]!.path).toMatch(/^\/Users\?filter=userName%20eq%20%22[0-9a-f-]{36}%22$/);
      expect(entries.filter((e) => e.kind === 'testConnection')).toHaveLength(1);
    }
    const initial = first.log.filter((e) => e.cycle === 1);
    const firstGroupCall = initial.findIndex((e) => e.path.startsWith('/Groups'));
    expect(initial.slice(1, firstGroupCall).every((e) => e.path.startsWith('/Users'))).toBe(true);
    expect(initial.filter((e) => e.kind === 'lookup' && e.path.startsWith('/Users'))).toHaveLength(30);
    expect(
      initial.filter(
        (e) =>
          e.kind === 'lookup' && e.path.startsWith('/Groups?excludedAttributes=members&filter=displayName'),
      ),
    ).toHaveLength(4);
    expect(initial.some((e) => e.kind === 'addMembers' && e.status === 'success')).toBe(true);
  });

  it('shows every kind of Entra change over the incremental cycles, by id once the target id is cached', () => {
    const kinds = new Set(first.log.filter((e) => e.cycle > 1).map((e) => e.kind));
    for (const kind of [
      'update',
      'disable',
      'enable',
      'delete',
      'create',
      'addMembers',
      'removeMembers',
    ] as const) {
      expect(kinds, kind).toContain(kind);
    }
    for (const e of first.log.filter((x) => ['update', 'disable', 'enable', 'delete'].includes(x.kind))) {
      expect(e.path).toMatch(/^\/(Users|Groups)\/[0-9a-f-]{36}$/);
    }
  });

  it('never retries a failure within the cycle, and retries it in a later one (escrow)', () => {
    const failures = first.log.filter((e) => e.status === 'failure');
    expect(failures.length).toBeGreaterThan(0);
    for (const f of failures) {
      // After a failure the object gets no further call in that cycle: Entra escrows it.
      const at = first.log.indexOf(f);
      const later = first.log
        .slice(at + 1)
        .filter(
          (e) =>
            e.cycle === f.cycle && e.identity === f.identity && (f.identity !== null || e.path === f.path),
        );
      expect(later, `${f.kind} ${f.identity}`).toEqual([]);
      // ...and is tried again in the next cycle.
      if (f.cycle < 5 && f.kind !== 'testConnection') {
        const retried = first.log.some((e) => e.cycle > f.cycle && e.identity === f.identity);
        expect(retried, `${f.kind} ${f.identity} retried`).toBe(true);
      }
    }
    // The user the target always refuses is looked up and created again in every cycle, never more than once.
    for (let cycle = 1; cycle <= 5; cycle++) {
      const tries = first.log.filter((e) => e.cycle === cycle && e.identity === conflict);
      expect(tries.map((e) => e.kind)).toEqual(['lookup', 'create']);
      expect(tries[1]!.status).toBe('failure');
    }
    expect(
      first.log.filter((e) => e.identity === conflict && e.httpStatus === 409).length,
    ).toBeGreaterThanOrEqual(3);
    expect(first.summary.pending.users).toBeGreaterThanOrEqual(1);
  });

  it('sends both PATCH dialects the target accepts', async () => {
    const target = await startTarget({ port: 0 });
    try {
      const flag = await runAgainst(target, { dialect: 'flag', cycles: 4 });
      expect(flag.summary.failures).toBe(0);
      expect(new Set(flag.log.map((e) => e.kind))).toContain('update');
    } finally {
      await target.close();
    }
  });

  it('paces requests evenly at the given rate', async () => {
    const target = await startTarget({ port: 0 });
    const times: number[] = [];
    try {
      const simulator = createSimulator({
        target: target.url,
        token: target.token,
        users: 10,
        groups: 0,
        cycles: 1,
        rate: 200,
        onOperation: () => times.push(performance.now()),
      });
      const started = performance.now();
      const summary = await simulator.run();
      // 21 requests at 200/s: the last one starts 100 ms after the first, not in a burst.
      expect(summary.requests).toBe(21);
      expect(performance.now() - started).toBeGreaterThanOrEqual(95);
    } finally {
      await target.close();
    }
  });

  it('stop() ends a forever run after the request in flight', async () => {
    const target = await startTarget({ port: 0 });
    try {
      const simulator = createSimulator({
        target: target.url,
        token: target.token,
        users: 5,
        groups: 1,
        cycles: 0,
        intervalMs: 60_000,
        rate: 0,
      });
      const run = simulator.run();
      while (simulator.progress().waitingMs === null) await new Promise((r) => setTimeout(r, 5));
      simulator.stop();
      const summary = await run;
      expect(summary.stoppedReason).toBe('stopped');
      expect(summary.cycles).toBe(1);
    } finally {
      await target.close();
    }
  });
});

describe.each(['2017', 'flag'] as const)('simulator through scimtap (%s dialect)', (dialect) => {
  let target: Target;
  let scimtap: Awaited<ReturnType<typeof startTestScimtap>>;
  let log: SimulatorLogEntry[];

  beforeAll(async () => {
    target = await seededTarget([conflict]);
    scimtap = await startTestScimtap(target.url, { SCIMTAP_LOG_LEVEL: 'silent' });
    log = [];
    const simulator = createSimulator({
      target: scimtap.proxyUrl,
      token: target.token,
      ...small,
      dialect,
      onOperation: (e) => log.push(e),
    });
    await simulator.run();
    scimtap.recorder.flush();
  });
  afterAll(async () => {
    await scimtap?.stop();
    await target?.close();
  });

  it('records the simulator’s own log one for one: operation, status, identity', () => {
    const recorded = scimtap.db.$client
      .prepare(
        'select operation, status, identity, target_id as targetId, http_status as httpStatus from operations order by id',
      )
      .all() as {
      operation: string;
      status: string;
      identity: string | null;
      targetId: string | null;
      httpStatus: number | null;
    }[];
    expect(log.length).toBeGreaterThan(100);
    expect(recorded).toHaveLength(log.length);
    for (let i = 0; i < log.length; i++) {
      const sent = log[i]!;
      const got = recorded[i]!;
      const where = `#${i} ${sent.method} ${sent.path} → ${sent.httpStatus}`;
      expect(got.operation, where).toBe(sent.kind);
      expect(got.status, where).toBe(sent.status);
      expect(got.httpStatus, where).toBe(sent.httpStatus);
      // A call by id whose answer names nobody (204, or an error) carries the object only as its target id.
      if (got.identity === null && sent.identity !== null) expect(got.targetId, where).toBe(sent.targetId);
      else expect(got.identity, where).toBe(sent.identity);
    }
  });
});

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['bin/scimtap.js', 'simulate', ...args],
      { cwd: root, timeout: 30_000 },
      (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

describe('scimtap simulate', () => {
  let target: Target;
  beforeAll(async () => {
    target = await startTarget({ port: 0 });
  });
  afterAll(async () => {
    await target.close();
  });

  it('exits 1 with a clear message when nothing listens at the URL', async () => {
    const { code, stderr } = await runCli([
      '--target',
      'http://127.0.0.1:9/scim/v2',
      '--token',
      'token-x',
      '--rate',
      '0',
    ]);
    expect(code).toBe(1);
    expect(stderr).toContain('cannot reach http://127.0.0.1:9/scim/v2');
    expect(stderr).toContain('ECONNREFUSED');
  });

  it('exits 1 at the first probe when the token is wrong, without hammering the target', async () => {
    const before = target.requests;
    const { code, stderr } = await runCli([
      '--target',
      target.url,
      '--token',
      'token-wrong',
      '--users',
      '50',
      '--rate',
      '0',
    ]);
    expect(code).toBe(1);
    expect(stderr).toContain('rejected the token (HTTP 401');
    expect(stderr).toContain('--token');
    expect(target.requests - before).toBe(1);
  });

  it('exits 2 on bad options, naming each problem', async () => {
    const { code, stderr } = await runCli(['--target', 'not a url', '--users', 'many', '--dialect', '2020']);
    expect(code).toBe(2);
    expect(stderr).toContain('--target must be an http:// or https:// URL');
    expect(stderr).toContain('--token is required');
    expect(stderr).toContain('--users must be a number');
    expect(stderr).toContain('--dialect must be 2017 or flag');
  });

  it('runs cycles against a working endpoint and prints a summary', async () => {
    const { code, stdout, stderr } = await runCli([
      '--target',
      target.url,
      '--token',
      target.token,
      '--users',
      '8',
      '--groups',
      '2',
      '--members',
      '3',
      '--cycles',
      '2',
      '--interval',
      '0',
      '--rate',
      '0',
      '--seed',
      '5',
    ]);
    expect(stderr).toContain('cycle 1 (initial)');
    expect(stderr).toContain('cycle 2 (incremental)');
    expect(code).toBe(0);
    expect(stdout).toMatch(/simulated 2 cycles: \d+ requests, 0 failures/);
    expect(stdout).toMatch(/create\s+10 ok\s+0 failed/);
  });
});
