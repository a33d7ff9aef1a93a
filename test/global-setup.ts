import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// Tests that spawn bin/scimtap.js run the built server. Build it once here, before the test files start in
// parallel: several processes building dist/server at once could import each other's half-written files.
export default function setup(): void {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const r = spawnSync(process.execPath, ['bin/scimtap.js', '--help'], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`building the server failed:\n${r.stdout}${r.stderr}`);
}
