import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../store/db.js';
import { syntheticTraffic } from './synthetic.js';
import { createHarness } from './testing.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'scimtap-rebuild-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['bin/scimtap.js', ...args],
      { cwd: root, timeout: 60_000 },
      (err, stdout, stderr) => {
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

describe('scimtap rebuild', () => {
  it('recomputes the rollups of a database from its operations', async () => {
    const h = createHarness({ dir });
    h.ingest(syntheticTraffic({ users: 30, groups: 3, incrementalCycles: 10, seed: 3 }));
    const count = (table: string) =>
      h.db.$client.prepare(`select count(*) from ${table}`).pluck().get() as number;
    const expected = {
      cycles: count('cycles'),
      identities: count('identities'),
      operations: count('operations'),
    };
    // lose the rollups, as an upgrade or a changed threshold would make them wrong
    h.db.$client.exec('delete from cycles; delete from identities; delete from memberships');
    h.close();

    const { code, stdout } = await cli(['rebuild', '--db', join(dir, 'scimtap.db')]);
    expect(code).toBe(0);
    expect(stdout).toMatch(
      new RegExp(
        `rebuilt from ${expected.operations} operations .*: ${expected.cycles} cycles, ${expected.identities} identities`,
      ),
    );
    const db = openDatabase(join(dir, 'scimtap.db'));
    expect(db.$client.prepare('select count(*) from cycles').pluck().get()).toBe(expected.cycles);
    db.$client.close();
  });

  it('exits 2 when there is no database', async () => {
    const { code, stderr } = await cli(['rebuild', '--db', join(dir, 'missing.db')]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/no database at/);
  });
});
