// `npm run bench`: every benchmark in this folder, one after another (each starts and stops what it needs).
// `npm run bench -- proxy api` runs only those.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';

const here = new URL('.', import.meta.url).pathname;
const wanted = process.argv.slice(2);
const all = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts')
  .map((f) => f.replace(/\.ts$/, ''))
  .sort((a, b) => (a === 'proxy' ? -1 : b === 'proxy' ? 1 : a.localeCompare(b)));
const chosen = wanted.length ? all.filter((b) => wanted.includes(b)) : all;
if (wanted.length && chosen.length !== wanted.length) {
  console.error(
    `unknown benchmark(s): ${wanted.filter((w) => !all.includes(w)).join(', ')}; have: ${all.join(', ')}`,
  );
  process.exit(2);
}
let failed = 0;
for (const name of chosen) {
  console.log(`\n=== bench/${name}.ts ===`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', `${here}${name}.ts`], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
