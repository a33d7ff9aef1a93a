import type { Job } from '../jobs/index.js';
import type { AlertEngine } from './engine.js';

/**
 * The alerting jobs (ARCHITECTURE §1 `jobs/`): the detection tick, which also sends reminders and notices
 * expired silences and time-based rules (`stalled`, `backoffSuspected`), and the outbox retry. Both also run
 * right after start, to catch up on what came due while scimtap was down.
 */
export function alertJobs(alerts: AlertEngine): Job[] {
  return [
    {
      name: 'alerts.evaluate',
      schedule: { everyMs: 15_000 },
      runAfterStartMs: 0,
      run: () => {
        alerts.evaluate();
      },
    },
    {
      name: 'notify.retry',
      schedule: { everyMs: 15_000 },
      runAfterStartMs: 1_000,
      run: async () => {
        await alerts.outbox.deliverDue();
      },
    },
  ];
}
