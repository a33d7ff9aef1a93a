import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../config.js';
import type { Exchange, Operation } from '../scim/types.js';
import { type Db, openDatabase } from '../store/db.js';
import { createIngest, type IngestStage, type StoredOperation } from '../store/ingest.js';
import { type CycleStage, createCycleStage } from './index.js';

// Test and benchmark plumbing: a temp database with the real ingest path, fed classified operations directly.

export interface Harness {
  db: Db;
  stage: CycleStage;
  config: ReturnType<typeof loadConfig>;
  /** write operations through createIngest in batches of `batch` (one transaction each) */
  ingest(ops: Iterable<Operation>, batch?: number): StoredOperation[];
  close(): void;
}

/** The Exchange is only a carrier here: classification already happened when the operation was built. */
function carrier(op: Operation): Exchange {
  return { requestTruncated: false, responseTruncated: false, op } as unknown as Exchange;
}

export function createHarness(
  options: { env?: Record<string, string>; stages?: IngestStage[]; withCycles?: boolean; dir?: string } = {},
): Harness {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'scimtap-cycles-'));
  const config = loadConfig({ SCIMTAP_DB: join(dir, 'scimtap.db'), ...options.env });
  const db = openDatabase(config.db);
  const stage = createCycleStage({ db, config, clock: () => 0 });
  const write = createIngest({
    db,
    classify: (ex) => (ex as unknown as { op: Operation }).op,
    stages: [...(options.withCycles === false ? [] : [stage]), ...(options.stages ?? [])],
  });
  return {
    db,
    stage,
    config,
    ingest(ops, batch = 50) {
      const stored: StoredOperation[] = [];
      let pending: Exchange[] = [];
      for (const op of ops) {
        pending.push(carrier(op));
        if (pending.length >= batch) {
          stored.push(...write(pending));
          pending = [];
        }
      }
      if (pending.length > 0) stored.push(...write(pending));
      return stored;
    },
    close() {
      db.$client.close();
      if (!options.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
