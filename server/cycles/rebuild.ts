import type { Db } from '../store/db.js';
import { type CycleConfig, createCycleStage, type StoredCycleOperation } from './index.js';

export interface RebuildOptions {
  clock?: () => number;
  /** operations per transaction */
  batchSize?: number;
  onProgress?(done: number): void;
}

export interface RebuildResult {
  operations: number;
  cycles: number;
  identities: number;
  memberships: number;
}

/**
 * Recompute cycles, identities and memberships from the operations table, oldest first, through the same stage
 * the recorder uses, so the result is what live recording would have produced. Run it with scimtap stopped:
 * a running instance keeps its in-memory cycle and would not see the new rows.
 */
export function rebuildRollups(db: Db, config: CycleConfig, options: RebuildOptions = {}): RebuildResult {
  const { clock = Date.now, batchSize = 5_000, onProgress } = options;
  const sqlite = db.$client;
  sqlite.transaction(() => {
    sqlite.exec('delete from memberships; delete from identities; delete from cycles');
    // Ids restart at 1 so that a rebuild of the same operations gives the same ids.
    sqlite.exec("delete from sqlite_sequence where name in ('cycles', 'identities')");
  })();

  const stage = createCycleStage({ db, config, clock });
  const select = sqlite.prepare(`select id, time, duration_ms as durationMs, http_status as httpStatus,
    resource_type as resourceType, operation, status, identity_type as identityType, identity,
    external_id as externalId, target_id as targetId, error_code as errorCode, reason,
    modified_properties as modifiedProperties, members, client_kind as clientKind from operations where id > ? order by id limit ?`);
  const assign = sqlite.prepare('update operations set cycle_id = ?, identity_id = ? where id = ?');
  const step = sqlite.transaction((ops: StoredCycleOperation[]) => {
    stage.beforeInsert(ops);
    for (const op of ops) assign.run(op.cycleId, op.identityId, op.id);
    stage.afterInsert(ops);
  });

  let after = 0;
  let done = 0;
  for (;;) {
    const rows = select.all(after, batchSize) as (Omit<
      StoredCycleOperation,
      'modifiedProperties' | 'members'
    > & {
      modifiedProperties: string;
      members: string;
    })[];
    if (rows.length === 0) break;
    const ops = rows.map(
      (r): StoredCycleOperation => ({
        ...r,
        modifiedProperties: parseArray(r.modifiedProperties),
        members: parseArray(r.members),
        cycleId: null,
        identityId: null,
      }),
    );
    try {
      step(ops);
    } catch (err) {
      stage.onRollback();
      throw err;
    }
    after = ops[ops.length - 1].id;
    done += ops.length;
    onProgress?.(done);
  }
  stage.closeStale(clock());

  const count = (table: string) => sqlite.prepare(`select count(*) from ${table}`).pluck().get() as number;
  return {
    operations: done,
    cycles: count('cycles'),
    identities: count('identities'),
    memberships: count('memberships'),
  };
}

function parseArray<T>(text: string): T[] {
  try {
    const v = JSON.parse(text);
    return Array.isArray(v) ? v : [];
  } catch {
    return [];
  }
}
