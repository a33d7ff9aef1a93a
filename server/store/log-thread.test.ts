import { describe, expect, it } from 'vitest';
import type { FromLogWorker } from './app-writer.js';
import type { DerivedOperation } from './ingest.js';
import { derivedSlice, EventQueue } from './log-thread.js';

// What the log writer thread says reaches the proxy's thread in order, and the rows of a large batch are handed to
// metrics and detection a slice per turn of the event loop, so that requests are served in between.

const rows = (from: number, n: number) =>
  Array.from({ length: n }, (_, i) => ({ id: from + i }) as DerivedOperation);
const derived = (from: number, n: number): FromLogWorker => ({ type: 'derived', ops: rows(from, n) });
const stats = (written: number): FromLogWorker =>
  ({ type: 'stats', stats: { written } }) as unknown as FromLogWorker;
const turn = () => new Promise((r) => setImmediate(r));

function recordingQueue() {
  const seen: string[] = [];
  const queue = new EventQueue(
    (m) => seen.push(m.type === 'stats' ? `stats ${m.stats.written}` : m.type),
    (ops) => seen.push(`rows ${ops[0].id}-${ops.at(-1)!.id}`),
  );
  return { seen, queue };
}

describe('the events of the log writer thread', () => {
  it('hands a large batch on a slice per turn, with other work in between', async () => {
    const { seen, queue } = recordingQueue();
    queue.push(derived(1, 100));
    queue.push(stats(100));
    // A request that arrives meanwhile: served between two slices, not after all 100 rows.
    setImmediate(() => seen.push('request'));
    for (let i = 0; i < 6; i++) await turn();
    expect(derivedSlice).toBe(32);
    expect(seen).toEqual(['rows 1-32', 'request', 'rows 33-64', 'rows 65-96', 'rows 97-100', 'stats 100']);
  });

  it('keeps the order of what the thread said: counts only after the rows they include', async () => {
    const { seen, queue } = recordingQueue();
    queue.push(derived(1, 10));
    queue.push(derived(11, 30));
    queue.push(stats(40));
    queue.push(derived(41, 5));
    await turn();
    await turn();
    expect(seen).toEqual(['rows 1-10', 'rows 11-32', 'rows 33-40', 'stats 40', 'rows 41-45']);
  });

  it('hands everything at once when drained (after a flush)', () => {
    const { seen, queue } = recordingQueue();
    queue.push(derived(1, 100), false);
    queue.push(stats(100), false);
    queue.run(Number.POSITIVE_INFINITY);
    expect(seen).toEqual(['rows 1-100', 'stats 100']);
  });

  it('does not hand the same rows again after a stage throws, and goes on with the rest', async () => {
    const handed: number[] = [];
    let throwOnce = true;
    const queue = new EventQueue(
      () => {},
      (ops) => {
        handed.push(...ops.map((o) => o.id));
        if (throwOnce) {
          throwOnce = false;
          throw new Error('a stage failed');
        }
      },
    );
    queue.push(derived(1, 40), false);
    expect(() => queue.run()).toThrow('a stage failed');
    queue.run(Number.POSITIVE_INFINITY);
    expect(handed).toEqual(rows(1, 40).map((r) => r.id));
  });
});
