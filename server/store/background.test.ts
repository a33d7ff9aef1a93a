import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { exchange } from '../../test/fixtures/entra.js';
import { backgroundNice } from './background.js';
import { createCheckpointers } from './checkpointer.js';
import { openDatabase } from './db.js';
import { createLogHost } from './log-host.js';
import { startLogThread } from './log-thread.js';

// The log writer and the checkpointer run at the lowest CPU priority, so a burst's recording takes what the proxy's
// thread leaves (background.ts). Linux keeps a nice value per thread: /proc shows each of this process's threads.

/** Every thread of this process and its nice value (field 19 of /proc/<pid>/task/<tid>/stat). */
function niceByThread(): Map<number, number> {
  const threads = new Map<number, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      // After "pid (comm) ", the fields start at field 3; the command may itself hold spaces or parentheses.
      threads.set(Number(tid), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]));
    } catch {
      // a thread that ended between the listing and the read
    }
  }
  return threads;
}

async function waitFor<T>(read: () => T, done: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = read();
    if (done(value) || Date.now() > until) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe.runIf(process.platform === 'linux')('background threads', () => {
  it('run the log writer and the checkpointer at nice 19, and leave every other thread as it was', {
    timeout: 30_000,
  }, async () => {
    const before = niceByThread();
    const path = join(mkdtempSync(join(tmpdir(), 'scimtap-nice-')), 'scimtap.db');
    const host = createLogHost();
    cleanups.push(() => host.close());
    const writer = startLogThread({
      dbPath: path,
      classify: { capture: 'redacted', redact: ['password'] },
      cycles: { cycleIntervalMin: 40, expectedObjects: undefined, rules: { cycleGapMinutes: 30 } },
      host,
    });
    cleanups.push(async () => {
      writer.stop();
      await writer.close();
    });
    await writer.ready;
    const checkpointers = createCheckpointers();
    cleanups.push(() => checkpointers.close());
    const db = openDatabase(path);
    const checkpointer = checkpointers.start(db, path);
    cleanups.push(() => checkpointer.stop());

    const lowered = (threads: Map<number, number>) =>
      [...threads].filter(([tid, nice]) => !before.has(tid) && nice === backgroundNice);
    const after = await waitFor(niceByThread, (threads) => lowered(threads).length >= 2);
    expect(lowered(after)).toHaveLength(2);
    // The proxy's thread, and every thread that ran before (this test's own among them), keep their priority.
    for (const [tid, nice] of before) if (after.has(tid)) expect(after.get(tid)).toBe(nice);

    // At the lowest priority the writer still writes.
    writer.record(exchange());
    writer.flush();
    expect(writer.stats()).toMatchObject({ written: 1, dropped: 0 });
  });
});
