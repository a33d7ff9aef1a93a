import { describe, expect, it } from 'vitest';
import { exchange } from '../../test/fixtures/entra.js';
import type { Exchange } from '../scim/types.js';
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
