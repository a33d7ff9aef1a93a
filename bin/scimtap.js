#!/usr/bin/env node
// Runs the built server (dist/server, plain JavaScript). When server/ changed since the last build (a fresh
// clone, a pull), it builds first, as `npm start` does for the dashboard. An install without the TypeScript
// compiler (npm ci --omit=dev) runs the dist/ it was given.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const entry = join(root, 'dist', 'server', 'cli.js');

if (isStale()) build();
await import(pathToFileURL(entry).href);

function isStale() {
  const sources = join(root, 'server');
  if (!existsSync(sources)) return false;
  if (!existsSync(entry)) return true;
  const built = statSync(entry).mtimeMs;
  return newestMtime(sources) > built || statSync(join(root, 'tsconfig.server.json')).mtimeMs > built;
}

function build() {
  let tsc;
  try {
    tsc = join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');
  } catch {
    if (existsSync(entry)) {
      process.stderr.write(
        'scimtap: server/ is newer than dist/server, and TypeScript is not installed: running the old build\n',
      );
      return;
    }
    process.stderr.write(
      'scimtap: the server is not built and TypeScript is not installed: run npm install && npm run build\n',
    );
    process.exit(1);
  }
  const started = Date.now();
  process.stderr.write('scimtap: building the server (server/ changed since the last build)...\n');
  const result = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.server.json')], {
    cwd: root,
    encoding: 'utf8',
  });
  // tsc emits even with type errors; the code still runs, the errors are for whoever changed it.
  if (!existsSync(entry)) {
    process.stderr.write(`scimtap: server build failed:\n${result.stdout}${result.stderr}`);
    process.exit(1);
  }
  if (result.status !== 0)
    process.stderr.write(`scimtap: the server built with type errors:\n${result.stdout}`);
  process.stderr.write(`scimtap: server built in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}

function newestMtime(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && !e.name.endsWith('.test.ts'))
      newest = Math.max(newest, statSync(join(e.parentPath, e.name)).mtimeMs);
  }
  return newest;
}
