import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadConfig } from '../../server/config.js';
import { type StartOptions, startScimtap } from '../../server/main.js';

/** A real scimtap on loopback ports chosen by the OS, with its own temp database. */
export async function startTestScimtap(
  upstream: string,
  env: Record<string, string> = {},
  options: StartOptions = {},
) {
  const dir = mkdtempSync(join(tmpdir(), 'scimtap-test-'));
  const dbPath = join(dir, 'scimtap.db');
  const config = loadConfig({
    SCIMTAP_UPSTREAM: upstream,
    SCIMTAP_LISTEN: '127.0.0.1:0',
    SCIMTAP_ADMIN_LISTEN: '127.0.0.1:0',
    SCIMTAP_DB: dbPath,
    ...env,
  });
  const scimtap = await startScimtap(config, { logger: pino({ level: 'silent' }), ...options });
  return { ...scimtap, config, dir, dbPath };
}

/**
 * A configuration as `scimtap` loads it for serving, from a JSON file (`apps` list and other keys) written to a
 * temp folder, on loopback ports chosen by the OS, with its databases in that folder.
 */
export function loadFileConfig(file: Record<string, unknown>, env: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'scimtap-config-'));
  writeFileSync(join(dir, 'scimtap.json'), JSON.stringify(file));
  const config = loadConfig(
    {
      SCIMTAP_CONFIG: join(dir, 'scimtap.json'),
      SCIMTAP_LISTEN: '127.0.0.1:0',
      SCIMTAP_ADMIN_LISTEN: '127.0.0.1:0',
      SCIMTAP_DB: join(dir, 'scimtap.db'),
      ...env,
    },
    [],
    undefined,
    { command: 'serve' },
  );
  return { config, dir };
}
