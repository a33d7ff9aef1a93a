import { existsSync, rmSync } from 'node:fs';
import { appDbPath } from '../config/apps.js';
import { defaultDbPath } from '../config.js';
import { probeDatabase } from '../store/open.js';

/** SQLite's header field for "which application wrote this file": 'SCMD', scimtap demo. */
export const DEMO_APPLICATION_ID = 0x53434d44;

export const DEMO_DB = defaultDbPath.demo;

/**
 * Where a demo app's records go: SCIMTAP_DB itself when the demo runs one app, else a file per app beside it
 * (./data/scimtap-demo.db → ./data/scimtap-demo-tanium.db), as scimtap names an app's file (config/apps.ts).
 */
export function demoDbPath(db: string, id: string, several: boolean): string {
  return several ? appDbPath(db, id) : db;
}

/**
 * `reset: false` only refuses: SCIMTAP_DB itself when the demo's apps write beside it (a leftover SCIMTAP_DB
 * naming a real database means the demo was not meant, even if its files would not mix).
 *
 * A demo database starts fresh so each story starts at cycle 1. It resets only a file the demo wrote (marked
 * with DEMO_APPLICATION_ID, or the default demo path `ownDefault`), and refuses a file that holds anything else:
 * a demo pointed at a real database by a leftover SCIMTAP_DB must not mix simulated traffic into real records.
 */
export function prepareDemoDatabase(path: string, ownDefault: string = DEMO_DB, { reset = true } = {}): void {
  if (path === ':memory:' || !existsSync(path)) return;
  let applicationId: number;
  let recorded: boolean;
  try {
    ({ applicationId, recorded } = probeDatabase(path));
  } catch (err) {
    throw new Error(`SCIMTAP_DB (${path}): the demo cannot read it: ${(err as Error).message}`);
  }
  if (applicationId === DEMO_APPLICATION_ID || path === ownDefault) {
    if (!reset) return;
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${path}${suffix}`, { force: true });
    return;
  }
  if (recorded) {
    throw new Error(
      `SCIMTAP_DB (${path}) holds recorded traffic that is not the demo's, and the demo never writes into it. Unset SCIMTAP_DB for the demo's own file (${ownDefault}), or name a new one.`,
    );
  }
}
