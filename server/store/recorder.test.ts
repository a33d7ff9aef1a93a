import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { exchange } from '../../test/fixtures/entra.js';
import { classify } from '../scim/classify.js';
import type { Exchange } from '../scim/types.js';
import { openDatabase } from './db.js';
import { createIngest } from './ingest.js';
import { createRecorder, isRetryableWriteError } from './recorder.js';

const sqliteError = (code: string) => Object.assign(new Error(code), { code });

describe('createRecorder', () => {
  it('writes queued exchanges in order, in batches no larger than maxBatch', () => {
    const batches: Exchange[][] = [];
    const r = createRecorder({ write: (b) => batches.push([...b]), maxBatch: 2 });
    for (let i = 0; i < 5; i++) r.record(exchange({ path: `/Users/${i}` }));
    r.flush();
    expect(batches.map((b) => b.map((e) => e.path))).toEqual([
      ['/Users/0', '/Users/1'],
      ['/Users/2', '/Users/3'],
      ['/Users/4'],
    ]);
    expect(r.stats()).toMatchObject({ written: 5, queued: 0, dropped: 0 });
  });

  it('writes a full batch as soon as it fills, and holds a partial one for up to flushIntervalMs', () => {
    vi.useFakeTimers({
      toFake: ['setInterval', 'clearInterval', 'setImmediate', 'clearImmediate', 'performance'],
    });
    try {
      const sizes: number[] = [];
      const r = createRecorder({ write: (b) => sizes.push(b.length), maxBatch: 10, flushIntervalMs: 500 });
      r.start();
      for (let i = 0; i < 25; i++) r.record(exchange());
      // The next look finds two full batches, written one per turn; the five left wait for more.
      vi.advanceTimersByTime(30);
      expect(sizes).toEqual([10, 10]);
      vi.advanceTimersByTime(470);
      expect(sizes).toEqual([10, 10]);
      vi.advanceTimersByTime(60);
      expect(sizes).toEqual([10, 10, 5]);
      // Light load: an exchange waits up to 500 ms, and those that come meanwhile join its commit.
      r.record(exchange());
      vi.advanceTimersByTime(300);
      r.record(exchange());
      vi.advanceTimersByTime(150);
      expect(sizes).toEqual([10, 10, 5]);
      vi.advanceTimersByTime(100);
      expect(sizes).toEqual([10, 10, 5, 2]);
      expect(r.stop()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it('drops and counts beyond maxQueue instead of growing', () => {
    const r = createRecorder({ write: () => {}, maxQueue: 3 });
    for (let i = 0; i < 10; i++) r.record(exchange());
    expect(r.stats()).toMatchObject({ queued: 3, dropped: 7 });
  });

  it('keeps a batch that failed for a transient reason and writes it later', () => {
    let locked = true;
    const written: Exchange[] = [];
    let now = 0;
    const r = createRecorder({
      clock: () => now,
      write: (b) => {
        if (locked) throw sqliteError('SQLITE_BUSY');
        written.push(...b);
      },
    });
    r.record(exchange());
    r.flush();
    expect(r.stats()).toMatchObject({ failing: true, queued: 1, writeErrors: 1, dropped: 0 });
    locked = false;
    now += 2_000;
    r.flush();
    expect(written).toHaveLength(1);
    expect(r.stats()).toMatchObject({ failing: false, queued: 0 });
  });

  it('drops a batch that can never be written so it does not block the queue', () => {
    const r = createRecorder({
      write: () => {
        throw new TypeError('a bug, not the disk');
      },
    });
    r.record(exchange());
    r.record(exchange());
    r.flush();
    expect(r.stats()).toMatchObject({ dropped: 2, queued: 0, failing: true });
  });

  it('never throws from record(), even when writes fail', () => {
    const r = createRecorder({
      write: () => {
        throw sqliteError('SQLITE_FULL');
      },
      maxQueue: 1,
    });
    expect(() => {
      for (let i = 0; i < 3; i++) r.record(exchange());
      r.flush();
    }).not.toThrow();
  });
});

describe('a full disk', () => {
  it('writes the part of a batch that fits, in order, and counts the rest dropped (real SQLite, max_page_count)', () => {
    const db = openDatabase(join(mkdtempSync(join(tmpdir(), 'scimtap-full-')), 'scimtap.db'));
    const sqlite = db.$client;
    const write = createIngest({
      db,
      classify: (ex) => classify(ex, { capture: 'full', redact: [] }),
    });
    // Room for a few more pages only: each exchange carries a 3 KB body, so a 200-row batch cannot fit whole.
    sqlite.pragma(`max_page_count = ${(sqlite.pragma('page_count', { simple: true }) as number) + 12}`);
    const r = createRecorder({ write });
    for (let i = 0; i < 200; i++) {
      r.record(
        exchange({
          method: 'POST',
          path: `/scim/v2/Users`,
          reqBody: { userName: `u${i}`, pad: 'p'.repeat(3_000) },
        }),
      );
    }
    r.flush();
    const stats = r.stats();
    const stored = sqlite
      .prepare('select request_body from bodies order by operation_id')
      .pluck()
      .all() as string[];
    console.log(`full disk: ${stats.written} of 200 landed, ${stats.dropped} dropped`);
    expect(stats.written).toBeGreaterThan(0);
    expect(stats.written).toBeLessThan(200);
    expect(stats.written + stats.dropped).toBe(200);
    expect(stats).toMatchObject({ queued: 0, failing: true });
    expect(stats.lastError).toMatch(/full/i);
    // What landed is the batch's first rows, whole.
    expect(stored.map((b) => JSON.parse(b).userName)).toEqual(
      Array.from({ length: stats.written }, (_, i) => `u${i}`),
    );
    expect(sqlite.pragma('integrity_check', { simple: true })).toBe('ok');
    sqlite.close();
  });

  it('keeps the whole batch queued when nothing at all fits (space may come back)', () => {
    const now = 0;
    const r = createRecorder({
      clock: () => now,
      write: () => {
        throw sqliteError('SQLITE_FULL');
      },
    });
    for (let i = 0; i < 10; i++) r.record(exchange());
    r.flush();
    expect(r.stats()).toMatchObject({ queued: 10, dropped: 0, failing: true });
  });
});

describe('stop', () => {
  it('writes what is queued, and counts what it cannot write in time and what comes after', () => {
    const written: Exchange[] = [];
    const r = createRecorder({ write: (b) => written.push(...b), maxBatch: 10 });
    for (let i = 0; i < 25; i++) r.record(exchange());
    expect(r.stop()).toBe(0);
    expect(written).toHaveLength(25);
    r.record(exchange());
    expect(r.stats()).toMatchObject({ written: 25, dropped: 1, queued: 0 });
  });

  it('gives up at its deadline on a database that stays locked, and counts the rest dropped', () => {
    const r = createRecorder({
      write: () => {
        throw sqliteError('SQLITE_BUSY');
      },
    });
    for (let i = 0; i < 7; i++) r.record(exchange());
    const started = performance.now();
    expect(r.stop({ deadlineMs: 50 })).toBe(7);
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(r.stats()).toMatchObject({ dropped: 7, queued: 0 });
  });

  it('does not wait on a full disk: what cannot be written is counted at once', () => {
    const r = createRecorder({
      write: () => {
        throw sqliteError('SQLITE_FULL');
      },
    });
    for (let i = 0; i < 3; i++) r.record(exchange());
    const started = performance.now();
    expect(r.stop({ deadlineMs: 10_000 })).toBe(3);
    expect(performance.now() - started).toBeLessThan(1_000);
  });
});

describe('isRetryableWriteError', () => {
  // Locked, busy, full and read-only databases come back; a constraint or a bug does not.
  it.each([
    ['SQLITE_BUSY', true],
    ['SQLITE_LOCKED', true],
    ['SQLITE_FULL', true],
    ['SQLITE_READONLY', true],
    ['SQLITE_IOERR_WRITE', true],
    ['SQLITE_CONSTRAINT_UNIQUE', false],
    ['ERR_SOMETHING', false],
  ])('%s → %s', (code, expected) => expect(isRetryableWriteError(sqliteError(code))).toBe(expected));
});
