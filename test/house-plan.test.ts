import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

// The house plan (issue 12) as checks, so that it holds after the session that wrote it: no source file over
// 400 lines, and the SQL in server/store/ only. Functions over 80 lines are Biome's to refuse (biome.json's
// noExcessiveLinesPerFunction, run by `npm run lint`).

const root = new URL('..', import.meta.url).pathname;

function sources(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !/\.tsx?$/.test(entry.name) || /\.test\.tsx?$/.test(entry.name)) continue;
    found.push(relative(root, join(entry.parentPath, entry.name)));
  }
  return found;
}

const serverAndWeb = [...sources('server'), ...sources('web/src')];

describe('the house plan', () => {
  it('has no source file over 400 lines', () => {
    const long = serverAndWeb
      .map((file) => ({ file, lines: readFileSync(join(root, file), 'utf8').split('\n').length }))
      .filter(({ lines }) => lines > 400);
    expect(long).toEqual([]);
  });

  it('keeps the SQL in server/store/', () => {
    // A query builder import, a prepared statement, or a raw sql`` fragment. Transactions and close() on the
    // driver are not SQL: the stages decide their unit of work, the store writes it.
    const sql = /from 'drizzle-orm(?:\/[a-z-]+)?'|\.prepare\(|\bsql`/;
    const outside = sources('server')
      .filter((file) => !file.startsWith('server/store/'))
      .filter((file) => sql.test(readFileSync(join(root, file), 'utf8')));
    expect(outside).toEqual([]);
  });

  it('would notice (the checks see the files they claim to)', () => {
    expect(serverAndWeb).toContain('server/main.ts');
    expect(serverAndWeb).toContain('web/src/main.tsx');
    expect(sources('server').filter((f) => f.startsWith('server/store/queries/')).length).toBeGreaterThan(5);
  });
});
