import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The package's root folder (where package.json, drizzle/ and dist/ are). Found by walking up, because this
 * module runs from server/ (tests, tsx) and from dist/server/ (the built server) alike.
 */
export const packageRoot: string = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('scimtap: package.json not found above the server folder');
    dir = parent;
  }
  return dir;
})();
