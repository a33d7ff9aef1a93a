import type { Job } from '../jobs/index.js';

/** The cycles stage, or the log writer thread that runs it (store/log-thread.ts). */
export interface StaleCycles {
  closeStale(now: number): unknown;
}

/**
 * A cycle closes after a silence, and a silence brings no operation to notice it by: this job looks. It also
 * runs right after start, to close a cycle left running while scimtap was down.
 */
export function cycleJobs(cycles: StaleCycles, clock: () => number): Job[] {
  return [
    {
      name: 'cycles.closeStale',
      schedule: { everyMs: 10_000 },
      runAfterStartMs: 0,
      run: () => {
        cycles.closeStale(clock());
      },
    },
  ];
}
