// A scimtap SQLite database filled the way scimtap fills it (real classify, log writer, derivation stages, the
// alert engine queueing notifications), for tests that read a whole database: `scimtap migrate-store`.
import Database from 'better-sqlite3';
import { createAlertEngine } from '../../server/alerts/engine.js';
import { loadConfig, rulesSchema } from '../../server/config.js';
import { createClientStage } from '../../server/cycles/clients.js';
import { createCycleStage } from '../../server/cycles/index.js';
import { classify } from '../../server/scim/classify.js';
import type { Exchange } from '../../server/scim/types.js';
import { openDatabase } from '../../server/store/db.js';
import { createDerivation } from '../../server/store/derivation.js';
import { createLogWriter } from '../../server/store/ingest.js';
import { copyPlan, quote } from '../../server/store/pg/copy-plan.js';
import { progressPrefix } from '../../server/store/pg/migrate-store.js';
import type { Pool } from '../../server/store/pg/pool.js';
import { idleRecorderStats } from '../../server/store/recorder.js';
import { createTermsStage } from '../../server/store/terms.js';
import {
  addMembersBody,
  createGroupBody,
  exchange,
  filterQuery,
  groupResource,
  PROBE_GUID,
  scimError,
} from '../fixtures/entra.js';
import { entra } from './traffic.js';

const MIN = 60_000;
const start = Date.UTC(2025, 0, 15, 9, 0, 0);

const rules = rulesSchema.parse({ credentialsConsecutive: 3, debounceSeconds: 0, recoverySeconds: 60 });
const config = { ...loadConfig({ SCIMTAP_DB: ':memory:' }), rules, notifyTo: ['ops@contoso.example'] };

/** `cycles` Entra-like cycles of `perCycle` calls each; one in three is refused (a credentials incident). */
function traffic(cycles: number, perCycle: number): Exchange[] {
  const out: Exchange[] = [];
  let at = start;
  for (let c = 0; c < cycles; c++) {
    at += 40 * MIN;
    const refused = c % 3 === 1;
    out.push(
      exchange({
        startedAt: at,
        query: filterQuery('userName', PROBE_GUID),
        status: refused ? 401 : 200,
        resBody: refused ? scimError(401, 'Unauthorized') : { schemas: [], totalResults: 0, Resources: [] },
      }),
    );
    for (let i = 0; i < perCycle; i++) {
      at += 1_000;
      const n = (c * perCycle + i) % 40;
      const [name, id] = [`user${n}@contoso.example`, `u-${n}`];
      if (refused) {
        out.push(
          exchange({
            startedAt: at,
            method: 'PATCH',
            path: `/scim/v2/Users/${id}`,
            status: 401,
            resBody: scimError(401, 'invalid token'),
          }),
        );
      } else if (i === 0) {
        // a group per healthy cycle, and members added to it: memberships
        const g = `g-${c}`;
        out.push(
          exchange({
            startedAt: at,
            method: 'POST',
            path: '/scim/v2/Groups',
            reqBody: createGroupBody({ displayName: `Group ${c}`, externalId: `group${c}` }),
            status: 201,
            resBody: groupResource({ id: g, displayName: `Group ${c}`, externalId: `group${c}` }),
          }),
          exchange({
            startedAt: at + 500,
            method: 'PATCH',
            path: `/scim/v2/Groups/${g}`,
            reqBody: addMembersBody([`u-${n}`, `u-${(n + 1) % 40}`]),
            status: 204,
          }),
        );
      } else if (i % 4 === 0) out.push(entra.lookupUser(at, name, id));
      else if (i % 4 === 1) out.push(entra.createUser(at, name, id));
      else if (i % 4 === 2) out.push(entra.updateUser(at, id, name, `Name ${c}`));
      else out.push(n % 7 === 0 ? entra.createConflict(at, name) : entra.throttled(at, id));
    }
  }
  return out;
}

/**
 * Writes about `cycles * (perCycle + 1)` operations to a new SQLite file at `path`, derived as scimtap derives
 * them, with the alert engine following: incidents, and notifications in the outbox. Returns when closed.
 */
export function recordDatabase(path: string, { cycles = 12, perCycle = 20 } = {}): void {
  const db = openDatabase(path);
  const exchanges = traffic(cycles, perCycle);
  let now = start;
  const clock = () => now;
  const engine = createAlertEngine({
    db,
    config,
    clock,
    logger: { info() {}, warn() {}, error() {} },
    recorderStats: idleRecorderStats,
    baseUrl: () => 'http://127.0.0.1:8081',
    sender: null,
  });
  const stages = [
    createClientStage({ db }),
    createCycleStage({ db, config, clock }),
    engine.stage,
    createTermsStage(db),
  ];
  const derivation = createDerivation({ db, stages });
  const write = createLogWriter({
    db,
    classify: (e) => classify(e, { capture: 'redacted', redact: ['password'] }),
    derivation,
  });
  for (let i = 0; i < exchanges.length; i += 7) {
    const batch = exchanges.slice(i, i + 7);
    now = (batch.at(-1) as Exchange).startedAt + 1;
    write(batch);
    derivation.drain();
    engine.evaluate(now);
  }
  now += 30 * MIN;
  engine.evaluate(now);
  // What the dashboard and the sender add: a silence (its comment with a NUL, which PostgreSQL text cannot
  // hold) and a delivery attempt for the first notification.
  db.$client
    .prepare(
      `insert into silences (rule, identity, comment, created_by, created_at, expires_at)
       values ('credentials', null, ?, 'admin', ?, ?)`,
    )
    .run('muted\0 for the test', now, now + 60 * MIN);
  db.$client
    .prepare(
      `insert into delivery_attempts (outbox_id, at, duration_ms, ok, retryable, error, response_code, response)
       select id, ?, 120, 0, 1, 'connection refused', null, null from outbox order by id limit 1`,
    )
    .run(now);
  db.$client.close();
}

/**
 * Every table of a SQLite file and of a PostgreSQL copy of it as comparable rows: key order, the copied
 * columns, numbers as text, SQLite's values converted as migrate-store converts them; no progress rows.
 */
export async function dumps(file: string, pool: Pool) {
  const plan = copyPlan({ nulReplaced: 0 });
  const sqlite = new Database(file, { readonly: true });
  const norm = (v: unknown) => (typeof v === 'number' || typeof v === 'bigint' ? String(v) : v);
  const source: Record<string, unknown[][]> = {};
  const target: Record<string, unknown[][]> = {};
  try {
    for (const t of plan) {
      const select = `select ${t.columns.map(quote).join(', ')} from ${quote(t.name)}`;
      const order = ` order by ${t.key.map(quote).join(', ')}`;
      source[t.name] = (
        sqlite
          .prepare(select + order)
          .raw()
          .all() as unknown[][]
      ).map((row) => row.map((v, i) => norm(t.convert[i]?.(v))));
      const where = t.name === 'meta' ? ` where key not like '${progressPrefix}%'` : '';
      // PostgreSQL orders text by its collation; SQLite byte-wise: compare in one order.
      const { rows } = await pool.query({ text: select + where + order, rowMode: 'array' });
      target[t.name] = (rows as unknown[][]).map((row) => row.map(norm));
      if (!t.integerKey) {
        const byKey = (a: unknown[], b: unknown[]) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1);
        source[t.name]?.sort(byKey);
        target[t.name]?.sort(byKey);
      }
    }
  } finally {
    sqlite.close();
  }
  return { source, target };
}
