import { setPriority } from 'node:os';

// scimtap's background threads (the log writer, the WAL checkpointer) run at the lowest CPU priority (issue 12 §1).
// A worker adds no cores: on a busy host, the proxy's thread, the upstream and whatever sends the load share the
// same cores as the writer, and a writer at the same priority took a third of them in the middle of a burst. At
// nice 19 the scheduler runs the writer on what the others leave, which under Entra's load is nearly all of it:
// what a burst records waits in the writer's bounded queue (full: dropped and counted, never blocking) and is
// written when the burst ends. Measured in bench/proxy.ts: recorded req/s went from 0.39× to about 0.6× the bare
// forwarder's on these 2 cores, and a 30 s flood at full speed still left nothing queued or dropped.

/** The nice value of scimtap's background threads: the lowest priority Linux has. */
export const backgroundNice = 19;

/**
 * Lowers the calling thread's priority to `backgroundNice`; returns the nice value set, or null where it is not
 * (not Linux, or refused). On Linux a nice value belongs to a thread, so this leaves the proxy's thread as it is;
 * elsewhere (macOS) setpriority(0) would lower the whole process, so it does nothing there.
 */
export function runInBackground(): number | null {
  if (process.platform !== 'linux') return null;
  try {
    setPriority(backgroundNice);
    return backgroundNice;
  } catch {
    // A container that forbids it: the thread runs at the process's priority, as before.
    return null;
  }
}
