import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { startJobs } from '../jobs/index.js';
import { cycleJobs } from './jobs.js';
import { syntheticOperation as make } from './synthetic.js';
import { createHarness, type Harness } from './testing.js';

const T0 = Date.UTC(2025, 0, 15, 9, 0, 0);
const MIN = 60_000;

let h: Harness;
afterEach(() => h?.close());

describe('cycles.closeStale job', () => {
  it('closes the running cycle once the silence has lasted the gap, on the injected clock', async () => {
    h = createHarness();
    h.ingest([
      make({ time: T0, operation: 'testConnection' }),
      make({ time: T0 + 1000, operation: 'lookup', identity: 'ada' }),
    ]);
    let now = T0 + 2 * MIN;
    const jobs = startJobs(
      cycleJobs(h.stage, () => now),
      { logger: pino({ level: 'silent' }) },
    );
    try {
      // two minutes of silence: still running
      await jobs.runNow('cycles.closeStale');
      expect(h.stage.runningCycleId()).toBe(1);
      // five: closed
      now = T0 + 1000 + 5 * MIN;
      await jobs.runNow('cycles.closeStale');
      expect(h.stage.runningCycleId()).toBeNull();
      expect(h.db.$client.prepare('select state, closed_at from cycles').get()).toEqual({
        state: 'completed',
        closed_at: now,
      });
    } finally {
      await jobs.stop();
    }
  });
});
