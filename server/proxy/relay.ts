import type { Readable, Writable } from 'node:stream';

/**
 * Streams `from` into `to` a chunk at a time, showing each chunk to `seen` first, and ends `to` when `from` ends.
 * Backpressure as pipe() has it: `from` pauses while `to` is full and resumes on its 'drain'.
 *
 * pipe() instead registers and later removes seven listeners on the two streams for every request, which costs
 * more than the rest of scimtap's forwarding on the proxy's thread (issue 12, a perf profile under wrk). Errors
 * and early closes are the caller's: forward.ts destroys the other side, which ends the relay with it.
 */
export function relay(from: Readable, to: Writable, seen: (chunk: Buffer) => void): void {
  const resume = () => from.resume();
  from.on('data', (chunk: Buffer) => {
    seen(chunk);
    if (!to.write(chunk)) {
      from.pause();
      to.once('drain', resume);
    }
  });
  from.on('end', () => to.end());
}
