import { Readable, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { relay } from './relay.js';

/** A source of `count` chunks of `size` bytes that says how many it has produced. */
function source(count: number, size: number) {
  let produced = 0;
  const stream = new Readable({
    read() {
      if (produced === count) return this.push(null);
      this.push(Buffer.alloc(size, produced++ % 251));
    },
  });
  return { stream, produced: () => produced };
}

/** A sink that takes a chunk per turn of the event loop, as a slow socket does. */
function slowSink(highWaterMark: number) {
  const got: Buffer[] = [];
  let mostQueued = 0;
  const stream = new Writable({
    highWaterMark,
    write(chunk: Buffer, _enc, done) {
      got.push(chunk);
      setImmediate(done);
    },
  });
  const watch = setInterval(() => {
    mostQueued = Math.max(mostQueued, stream.writableLength);
  }, 0);
  stream.on('finish', () => clearInterval(watch));
  return { stream, got, mostQueued: () => Math.max(mostQueued, stream.writableLength) };
}

describe('relay', () => {
  it('delivers every chunk in order, shows each to `seen`, and ends the sink', async () => {
    const from = source(50, 1_000);
    const to = slowSink(4_096);
    const seen: Buffer[] = [];
    relay(from.stream, to.stream, (c) => seen.push(c));
    await new Promise((resolve) => to.stream.on('finish', resolve));
    const expected = Buffer.concat(Array.from({ length: 50 }, (_, i) => Buffer.alloc(1_000, i % 251)));
    expect(Buffer.concat(to.got).equals(expected)).toBe(true);
    expect(Buffer.concat(seen).equals(expected)).toBe(true);
  });

  it('pauses the source while the sink is full: a slow reader holds a few chunks, not the whole stream', async () => {
    const chunk = 16_384;
    const from = source(400, chunk); // 6.4 MB
    const to = slowSink(chunk);
    let ahead = 0;
    const watch = setInterval(() => {
      ahead = Math.max(ahead, from.produced() - to.got.length);
    }, 0);
    relay(from.stream, to.stream, () => {});
    await new Promise((resolve) => to.stream.on('finish', resolve));
    clearInterval(watch);
    expect(to.got.length).toBe(400);
    // Without the pause, the source runs to its end at once and the sink queues all 6.4 MB.
    expect(to.mostQueued()).toBeLessThanOrEqual(2 * chunk);
    expect(ahead).toBeLessThan(10);
  });

  it('ends an empty source at once', async () => {
    const to = slowSink(1_024);
    relay(Readable.from([]), to.stream, () => {});
    await new Promise((resolve) => to.stream.on('finish', resolve));
    expect(to.got).toEqual([]);
  });
});
