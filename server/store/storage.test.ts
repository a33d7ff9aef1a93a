import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase } from './db.js';
import { budgetPlan, createStorageGuard } from './storage.js';

describe('budgetPlan', () => {
  it.each([
    // small budgets: the WAL gets 1 MB at least, pruning between 80% and 90% of the rest
    [8, 1, 6.3, 5.6],
    // the default: an eighth for the WAL
    [1024, 64, 864, 768],
  ])('%i MB: WAL %i MB, prune above %f MB down to %f MB', (budget, wal, above, below) => {
    const MB = 1024 * 1024;
    const plan = budgetPlan(budget * MB);
    expect(plan.walLimitBytes).toBe(wal * MB);
    expect(plan.pruneAboveBytes / MB).toBeCloseTo(above, 1);
    expect(plan.pruneBelowBytes / MB).toBeCloseTo(below, 1);
  });
});

describe('the database file', () => {
  it('is reported missing when deleted, and replaced when another file takes its path', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'scimtap-guard-')), 'scimtap.db');
    const db = openDatabase(path);
    const guard = createStorageGuard({ db, path, budgetBytes: 64 * 1024 * 1024, opened: statSync(path) });
    guard.tick();
    expect(guard.fileProblem()).toBeNull();
    rmSync(path);
    guard.tick();
    expect(guard.fileProblem()).toBe('missing');
    writeFileSync(path, '');
    guard.tick();
    expect(guard.fileProblem()).toBe('replaced');
    expect(guard.stats().fileProblem).toBe('replaced');
    db.$client.close();
  });
});
