import { createServer } from 'node:net';

// A benchmark's scimtap listens on a port and its admin plane on the next. Both are picked below Linux's ephemeral
// range (32768–60999 by default), where the kernel never hands a port to an outgoing connection or to a listener on
// port 0: a random pick in 30,000–50,000 once collided with the forwarder's own port and the run hung.

/** Whether `port` can be bound on 127.0.0.1 now. */
function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** The first of `count` consecutive ports that are all free, outside the ephemeral range. */
export async function freePorts(count: number): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * (32_000 - 20_000 - count));
    let free = true;
    for (let p = base; p < base + count && free; p++) free = await isFree(p);
    if (free) return base;
  }
  throw new Error(`no ${count} consecutive free ports between 20000 and 32000`);
}
