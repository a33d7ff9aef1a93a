/**
 * Background jobs (ARCHITECTURE §1 `jobs/`), declared in ONE list: `scimtapJobs` below. main.ts starts that list
 * with `startJobs` and stops it with the returned `stop()` before the database closes.
 *
 * Adding a job is one line in `scimtapJobs`, either a factory from your folder that returns a `Job`:
 *     retentionJob(deps),
 * or the job itself:
 *     { name: 'outboxRetry', schedule: { everyMs: 30_000 }, run: () => deps.outbox?.retryDue(deps.clock()) },
 * `schedule` is a node-cron expression (5 fields, or 6 with seconds first) or a fixed interval. A job never runs
 * twice at once (a tick that finds it running is skipped), its errors are logged and do not stop the schedule,
 * and `run` gets an AbortSignal that fires at shutdown. If it needs something main.ts builds (the alert engine,
 * the outbox), add that to `JobDeps` and pass it where main.ts calls `scimtapJobs`.
 */
import { createTask, type ScheduledTask } from 'node-cron';
import type { Logger } from 'pino';
import type { AlertEngine } from '../alerts/engine.js';
import { alertJobs } from '../alerts/jobs.js';
import type { Config } from '../config.js';

import { cycleJobs, type StaleCycles } from '../cycles/jobs.js';
import type { Db } from '../store/db.js';
import { retentionJob } from './retention.js';

export interface Job {
  name: string;
  /** node-cron expression, e.g. '17 * * * *' (hourly at :17), or a fixed interval */
  schedule: string | { everyMs: number };
  /** also run once this long after start, e.g. to catch up after downtime */
  runAfterStartMs?: number;
  run(context: JobContext): void | Promise<void>;
}

export interface JobContext {
  /** aborted when scimtap stops: a long job checks it between steps */
  signal: AbortSignal;
  logger: Logger;
}

export interface JobDeps {
  db: Db;
  config: Config;
  clock: () => number;
  /** the incident engine, for the detection tick and the outbox retry */
  alerts?: AlertEngine;
  /** whoever owns the cycles stage (the log writer thread, or the cycles stage itself): the running cycle closes after a silence */
  cycles?: StaleCycles;
}

/** THE list of jobs scimtap runs. */
export function scimtapJobs(deps: JobDeps): Job[] {
  return [
    retentionJob(deps),
    ...(deps.alerts ? alertJobs(deps.alerts) : []),
    ...(deps.cycles ? cycleJobs(deps.cycles, deps.clock) : []),
  ];
}

export interface RunningJobs {
  /** run one job now (unless it is already running); resolves when that run ends */
  runNow(name: string): Promise<void>;
  /** no new runs; abort and wait for the running ones (at most `stopTimeoutMs`) */
  stop(): Promise<void>;
}

export interface StartJobsOptions {
  logger: Logger;
  stopTimeoutMs?: number;
}

export function startJobs(jobs: Job[], { logger, stopTimeoutMs = 5_000 }: StartJobsOptions): RunningJobs {
  const names = new Set<string>();
  for (const job of jobs) {
    if (names.has(job.name)) throw new Error(`jobs: two jobs are named ${job.name}`);
    names.add(job.name);
  }
  const abort = new AbortController();
  const running = new Map<string, Promise<void>>();
  const timers: NodeJS.Timeout[] = [];
  const tasks: ScheduledTask[] = [];
  let stopped = false;

  const trigger = (job: Job): Promise<void> => {
    const current = running.get(job.name);
    if (current) {
      logger.debug({ job: job.name }, 'jobs: still running, tick skipped');
      return current;
    }
    if (stopped) return Promise.resolve();
    const log = logger.child({ job: job.name });
    // Started on a later microtask, so even a run that throws at once ends after it is registered as running.
    const run = Promise.resolve()
      .then(() => job.run({ signal: abort.signal, logger: log }))
      .catch((err) => log.error({ err }, 'jobs: run failed'))
      .finally(() => running.delete(job.name));
    running.set(job.name, run);
    return run;
  };

  // node-cron logs through console unless told otherwise; send its few warnings to our logger.
  const cronLogger = {
    info: (message: string) => logger.debug({ message }, 'node-cron'),
    warn: (message: string) => logger.warn({ message }, 'node-cron'),
    error: (message: string | Error) => logger.error({ err: message }, 'node-cron'),
    debug: (message: string | Error) => logger.debug({ message: String(message) }, 'node-cron'),
  };
  for (const job of jobs) {
    if (typeof job.schedule === 'string') {
      const task = createTask(job.schedule, () => void trigger(job), {
        name: job.name,
        logger: cronLogger,
        unref: true,
      });
      tasks.push(task);
      void task.start();
    } else {
      const timer = setInterval(() => void trigger(job), job.schedule.everyMs);
      timer.unref();
      timers.push(timer);
    }
    if (job.runAfterStartMs !== undefined) {
      const timer = setTimeout(() => void trigger(job), job.runAfterStartMs);
      timer.unref();
      timers.push(timer);
    }
  }

  return {
    runNow(name) {
      const job = jobs.find((j) => j.name === name);
      if (!job) return Promise.reject(new Error(`jobs: no job named ${name}`));
      return trigger(job);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const timer of timers) clearTimeout(timer);
      await Promise.all(tasks.map((task) => task.destroy()));
      abort.abort();
      const timeout = new Promise<void>((resolve) => setTimeout(resolve, stopTimeoutMs).unref());
      await Promise.race([Promise.all(running.values()), timeout]);
    },
  };
}
