import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../config.js';
import { openDatabase } from '../store/db.js';
import { type Job, type RunningJobs, scimtapJobs, startJobs } from './index.js';

function captureLogger() {
  const lines: { level: number; msg: string; job?: string; err?: { message: string } }[] = [];
  return { lines, logger: pino({ level: 'debug' }, { write: (s: string) => lines.push(JSON.parse(s)) }) };
}

/** A promise the test settles, to hold a job "running". */
function gate() {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

describe('startJobs', () => {
  let running: RunningJobs | undefined;
  beforeEach(() => {
    vi.useFakeTimers({ now: new Date('2025-06-30T12:00:00.500Z') });
  });
  afterEach(async () => {
    vi.useRealTimers();
    await running?.stop();
    running = undefined;
  });

  it('runs an interval job every period', async () => {
    const runs: number[] = [];
    running = startJobs(
      [{ name: 'tick', schedule: { everyMs: 1_000 }, run: () => void runs.push(Date.now()) }],
      captureLogger(),
    );
    await vi.advanceTimersByTimeAsync(3_500);
    expect(runs).toHaveLength(3);
  });

  it('runs a cron job on its schedule (node-cron, seconds field)', async () => {
    let runs = 0;
    running = startJobs(
      [{ name: 'everySecond', schedule: '* * * * * *', run: () => void runs++ }],
      captureLogger(),
    );
    await vi.advanceTimersByTimeAsync(3_000);
    expect(runs).toBeGreaterThanOrEqual(2);
    expect(runs).toBeLessThanOrEqual(4);
  });

  it('runs once shortly after start when asked, then only on schedule', async () => {
    let runs = 0;
    running = startJobs(
      [{ name: 'hourly', schedule: '0 * * * *', runAfterStartMs: 30_000, run: () => void runs++ }],
      captureLogger(),
    );
    await vi.advanceTimersByTimeAsync(29_000);
    expect(runs).toBe(0);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(runs).toBe(1);
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    expect(runs).toBe(1);
  });

  it('never runs a job twice at once: ticks while it runs are skipped', async () => {
    const hold = gate();
    let started = 0;
    const { lines, logger } = captureLogger();
    running = startJobs(
      [
        {
          name: 'slow',
          schedule: { everyMs: 1_000 },
          run: async () => {
            started++;
            await hold.promise;
          },
        },
      ],
      { logger },
    );
    await vi.advanceTimersByTimeAsync(5_500);
    expect(started).toBe(1);
    expect(lines.filter((l) => l.msg === 'jobs: still running, tick skipped')).toHaveLength(4);
    hold.open();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(started).toBe(2);
  });

  it('logs a failing run and keeps the schedule', async () => {
    let runs = 0;
    const { lines, logger } = captureLogger();
    running = startJobs(
      [
        {
          name: 'flaky',
          schedule: { everyMs: 1_000 },
          run: () => {
            runs++;
            throw new Error('disk on fire');
          },
        },
      ],
      { logger },
    );
    await vi.advanceTimersByTimeAsync(2_500);
    expect(runs).toBe(2);
    const failures = lines.filter((l) => l.msg === 'jobs: run failed');
    expect(failures).toHaveLength(2);
    expect(failures[0]).toMatchObject({ job: 'flaky', level: 50, err: { message: 'disk on fire' } });
  });

  it('stop() aborts the running job, waits for it, and starts nothing after', async () => {
    let runs = 0;
    let sawAbort = false;
    const job: Job = {
      name: 'long',
      schedule: { everyMs: 1_000 },
      run: ({ signal }) =>
        new Promise<void>((resolve) => {
          runs++;
          signal.addEventListener('abort', () => {
            sawAbort = true;
            setTimeout(resolve, 10);
          });
        }),
    };
    running = startJobs([job], captureLogger());
    await vi.advanceTimersByTimeAsync(1_000);
    expect(runs).toBe(1);
    let stopped = false;
    const stopping = running.stop().then(() => {
      stopped = true;
    });
    await vi.advanceTimersByTimeAsync(5);
    expect(sawAbort).toBe(true);
    expect(stopped).toBe(false);
    await vi.advanceTimersByTimeAsync(10);
    await stopping;
    await vi.advanceTimersByTimeAsync(5_000);
    expect(runs).toBe(1);
  });

  it('runNow runs a job on demand and resolves when it ends', async () => {
    let runs = 0;
    running = startJobs(
      [{ name: 'manual', schedule: '0 3 * * *', run: async () => void runs++ }],
      captureLogger(),
    );
    await running.runNow('manual');
    expect(runs).toBe(1);
    await expect(running.runNow('nope')).rejects.toThrow(/no job named nope/);
  });

  it('refuses a list with two jobs of one name, or a bad cron expression', () => {
    const run = () => {};
    expect(() =>
      startJobs(
        [
          { name: 'a', schedule: { everyMs: 1_000 }, run },
          { name: 'a', schedule: { everyMs: 2_000 }, run },
        ],
        captureLogger(),
      ),
    ).toThrow(/two jobs are named a/);
    expect(() => startJobs([{ name: 'bad', schedule: '61 * * * *', run }], captureLogger())).toThrow();
  });
});

describe('scimtapJobs', () => {
  it('declares retention, hourly and once shortly after start', () => {
    const config = loadConfig({ SCIMTAP_UPSTREAM: 'http://127.0.0.1:9', SCIMTAP_DB: ':memory:' });
    const db = openDatabase(':memory:');
    const jobs = scimtapJobs({ db, config, clock: Date.now });
    const retention = jobs.find((j) => j.name === 'retention');
    expect(retention).toMatchObject({ schedule: '17 * * * *', runAfterStartMs: 30_000 });
    db.$client.close();
  });
});
