import type { Logger } from 'pino';
import type { Closers } from '../closers.js';
import type { Config } from '../config.js';
import { classify } from '../scim/classify.js';
import { type Consumer, startConsumer } from './consumer.js';
import type { Db } from './db.js';
import { createDerivation, createLagReader, type DerivationLag } from './derivation.js';
import { createLogWriter, type IngestStage } from './ingest.js';
import type { LogHost } from './log-host.js';
import { type LogThread, startLogThread } from './log-thread.js';
import { createRecorder, type Recorder } from './recorder.js';
import { budgetPlan } from './storage.js';

// Recording and derivation (issue 12 §1, §2), as main.ts starts them. A file database is written by the log
// writer thread, so classification, the insert and derivation cost the proxy's thread nothing; an in-memory one
// cannot be shared with a thread, and is written and derived here, on the proxy's thread.

export interface RecordingOptions {
  db: Db;
  config: Pick<Config, 'db' | 'capture' | 'redact' | 'captureLimitBytes' | 'maxDbMb'> &
    Parameters<typeof startLogThread>[0]['cycles'];
  clock: () => number;
  logger: Logger;
  maxQueue?: number;
  /** the stages that write derived rows (clients, cycles and identities, search terms), in this order */
  writers: { clients: IngestStage; cycles: IngestStage; terms: IngestStage };
  /** the stages that follow what was derived, after the commit, on this thread, in log order */
  followers: IngestStage[];
  closers: Closers;
  /** the log writer thread shared by the process's apps (a file database); without it, one of its own */
  logHost?: LogHost;
  /** the recorder stopped: how many exchanges it could not write in time (counted as dropped) */
  onStopped(dropped: number): void;
}

export interface Recording {
  recorder: Recorder;
  /** the log writer thread, for a file database */
  logThread?: LogThread;
  /** the consumer that derives what was logged without being derived (memory mode; the thread has its own) */
  consumer?: Consumer;
  lag(): DerivationLag;
}

export async function startRecording({
  db,
  config,
  clock,
  logger,
  maxQueue,
  writers,
  followers,
  closers,
  logHost,
  onStopped,
}: RecordingOptions): Promise<Recording> {
  const classifyOptions = {
    capture: config.capture,
    redact: config.redact,
    captureLimitBytes: config.captureLimitBytes,
  };
  const readLag = createLagReader(db);
  const lag = () => readLag(clock());
  let recorder: Recorder | undefined;
  // A failing disk would otherwise log ten times a second.
  let lastLoggedError = 0;
  let lastLoggedDerivationError = 0;
  const onDerivationError = (err: unknown) => {
    if (clock() - lastLoggedDerivationError < 10_000) return;
    lastLoggedDerivationError = clock();
    logger.error({ err, lag: lag() }, 'derivation: cannot derive from the operations log');
  };
  const onRecorderError = (err: unknown, retryable: boolean) => {
    if (clock() - lastLoggedError < 10_000) return;
    lastLoggedError = clock();
    logger.error({ err, retryable, stats: recorder?.stats() }, 'recorder: cannot write to the database');
  };

  if (config.db === ':memory:') {
    const derivation = createDerivation({
      db,
      // Small: a batch holds the event loop while it runs, so it bounds what catching up adds to a request.
      batchSize: 64,
      // Clients first: every later stage reads whose request it was.
      stages: [writers.clients, writers.cycles, writers.terms, ...followers],
    });
    const consumer = startConsumer({ derivation, onError: onDerivationError });
    // Closed after the recorder: what its last batches logged without deriving is derived then.
    closers.add('derivation', () => {
      consumer.stop();
      consumer.drain();
    });
    const writeLog = createLogWriter({
      db,
      classify: (exchange) => classify(exchange, classifyOptions),
      derivation,
    });
    const memoryRecorder = createRecorder({
      write(batch) {
        if (!writeLog(batch).derived) consumer.kick();
      },
      clock,
      maxQueue,
      onError: onRecorderError,
    });
    recorder = memoryRecorder;
    // Bounded: a disk that cannot take the queue must not hold the shutdown. What is left is counted.
    closers.add('recorder', () => onStopped(memoryRecorder.stop({ deadlineMs: 5_000 })));
    return { recorder, consumer, lag };
  }

  const budget = budgetPlan(config.maxDbMb * 1024 * 1024);
  const logThread = startLogThread({
    dbPath: config.db,
    classify: classifyOptions,
    cycles: config,
    maxQueue,
    walLimitBytes: budget.walLimitBytes,
    burstRoomBytes: burstRoom(budget.pruneBelowBytes),
    host: logHost,
    clock,
    onDerived(ops) {
      for (const stage of followers) stage.afterCommit?.(ops);
    },
    onError: onRecorderError,
    onDerivationError: (message) => onDerivationError(new Error(message)),
  });
  recorder = logThread;
  closers.add('log writer thread', async () => {
    // Bounded as above; the thread derives what it wrote before it answers.
    onStopped(logThread.stop({ deadlineMs: 5_000 }));
    await logThread.close();
  });
  // Forward only once recording works, as before the thread: the first exchange must not wait on its start.
  // A thread that cannot start costs drops (counted, recorderFailing), never forwarding.
  await logThread.ready.catch((err) =>
    logger.error({ err }, 'recorder: the log writer thread did not start; exchanges are dropped and counted'),
  );
  return { recorder, logThread, lag };
}

/** What a burst logged first may take: about 10 s of a flood of exchanges of a few kB at several thousand a second. */
const burstReserveBytes = 64 * 1024 * 1024;

/**
 * Past this many bytes of pages in use, a burst is written through rather than logged first (AppWriterData): rows
 * waiting in pending_operations cannot be pruned, so a burst needs room below where pruning stops, beside what is
 * there. Half of it, and never less than the reserve: a budget too small to hold a burst writes every burst through
 * (at 8 MB, bursts logged first took the file to 1.17× its budget in CI's storage-flood test).
 */
export function burstRoom(pruneBelowBytes: number): number {
  return Math.min(pruneBelowBytes / 2, pruneBelowBytes - burstReserveBytes);
}
