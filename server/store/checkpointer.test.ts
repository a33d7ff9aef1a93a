import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startCheckpointer } from './checkpointer.js';
import { openDatabase } from './db.js';

describe('startCheckpointer', () => {
  it('moves committed pages from the WAL into the database off the main thread', {
    timeout: 30_000,
  }, async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'scimtap-ckpt-')), 'x.db');
    const db = openDatabase(path);
    const checkpointer = startCheckpointer(db, path, { intervalMs: 50 });
    expect(db.$client.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
    const before = statSync(path).size;
    const insert = db.$client.prepare('insert into meta (key, value) values (?, ?)');
    db.$client.transaction(() => {
      for (let i = 0; i < 20_000; i++) insert.run(`k${i}`, 'x'.repeat(100));
    })();
    // generous: on a loaded machine the worker thread may take seconds to start
    const end = Date.now() + 20_000;
    // Until the pages are in: a checkpoint caught halfway has moved only some of them.
    while (statSync(path).size <= before + 1_000_000 && Date.now() < end)
      await new Promise((r) => setTimeout(r, 20));
    expect(statSync(path).size).toBeGreaterThan(before + 1_000_000);
    await checkpointer.stop();
    // After stop, SQLite's own checkpointing is back, so the WAL stays bounded without the worker.
    expect(db.$client.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
    db.$client.close();
  });
});
