import { createClientStage } from '../../../cycles/clients.js';
import { type CycleConfig, type CycleStage, createCycleStage } from '../../../cycles/index.js';
import { toStoredOperation as toSqliteStored } from '../../derivation.js';
import type { IngestStage, StoredOperation } from '../../ingest.js';
import { createTermsStage } from '../../terms.js';
import { createOperationsLog, type LogCursor, type LoggedOperation } from '../log.js';
import type { Pool } from '../pool.js';
import { FencedError, writeBack } from './flush.js';
import { createPgMeta, createPgRollupQueries, createPgTermSink } from './rollups.js';
import { createWorkspace, type Workspace } from './workspace.js';

// Derivation on PostgreSQL (issue 12 §2 on the second store): the lease holder reads the log in commit order
// (log.ts) and runs the very stages SQLite runs (clients, cycles, terms), unchanged. They are synchronous and
// PostgreSQL is not, so each batch goes in three moves:
//   1. read the batch, and prefetch into the workspace every row the stages can read for it (workspace.ts);
//   2. run beforeInsert then afterInsert against façades over the workspace (rollups.ts), which buffer writes;
//   3. write cursor, labels, writes and sequences back in one transaction (flush.ts).
// A failed batch rolls back whole; the workspace is read again and the stages reload from it, as on SQLite.
// Fencing: the write-back commits only if the cursor's row is still the version this derivation started from
// (flush.ts claimCursor), so a deposed leader finishing a batch and the new leader never both derive the same
// rows; the refused one starts afresh from what is committed (FencedError).

export interface PgDerivationOptions {
  pool: Pool;
  config: CycleConfig;
  clock?: () => number;
  /** operations per transaction */
  batchSize?: number;
  /**
   * How old (by request time, the app's clock) an operation must be before it is derived (0: at once). Replicas
   * commit their batches a flush interval or so apart, so the log's commit order is not quite the order of the
   * requests: Entra's create through one replica may commit just after its update of the same user through
   * another. A batch is the run of the log, in commit order, up to the first operation younger than this; by
   * then the earlier requests' rows have joined it, and it is derived in request time order.
   */
  settleMs?: number;
  /** told each time the stages (re)start from the database: at first, after a failed or a refused batch */
  onReset?: () => void;
  /**
   * Told of each batch once committed, its operations labelled (cycle, identity), in log order: what the
   * followers of derivation (detection) take. Never throws back: an error here is the follower's.
   */
  onDerived?: (ops: StoredOperation[]) => void;
}

export interface PgDerivation {
  /**
   * Derive at most one batch; how many operations it derived (0: caught up, or the new rows are not settled
   * yet). `now`: do not wait for them to settle (a flush: this replica's own rows are all written). Throws with
   * nothing written.
   */
  step(options?: { now?: boolean }): Promise<number>;
  /** derive until caught up, or a batch fails (then throws) */
  drain(): Promise<number>;
  /** the cycles stage's closeStale, its writes in a transaction of their own; whether it closed a cycle */
  closeStale(now?: number): Promise<boolean>;
  /** the position derived up to, as committed */
  cursor(): Promise<LogCursor>;
}

/** A row of the log as the stages take it: SQLite's mapping, without PostgreSQL's transaction id. */
export function toStoredOperation({ txid: _txid, ...row }: LoggedOperation): StoredOperation {
  return toSqliteStored(row);
}

/** The identity lookups the stages may make for these operations (cycles/identities.ts `resolve`). */
function lookupsOf(ops: StoredOperation[]) {
  const targets: string[][] = [];
  const names: string[][] = [];
  const keys: string[][] = [];
  for (const op of ops) {
    const type = op.identityType;
    if (type === null) continue;
    const targetId = op.targetId || null;
    const name = op.identity || null;
    if (targetId !== null) targets.push([type, targetId]);
    if (name !== null) names.push([type, name]);
    const key = targetId ?? name;
    if (key !== null) keys.push([type, key]);
  }
  return { targets, names, keys };
}

/**
 * A row stamped this far ahead of the leader's clock comes from a replica whose clock is wrong: waiting for it
 * would hold back every row behind it in the log, so it is taken as it comes.
 */
const aheadLimitMs = 5_000;

/**
 * The batch's run, in log order, of operations requested at or before `now - settleMs` (or stamped implausibly
 * far ahead); its cursor after them.
 */
function settled(
  read: { operations: LoggedOperation[]; cursor: LogCursor },
  now: number,
  settleMs: number,
  o: Opened,
): { operations: LoggedOperation[]; cursor: LogCursor } {
  const young = read.operations.findIndex((op) => op.time > now - settleMs && op.time <= now + aheadLimitMs);
  if (young === -1) return read;
  const operations = read.operations.slice(0, young);
  const last = operations.at(-1);
  return { operations, cursor: last ? { txid: last.txid, id: last.id } : o.ws.cursor() };
}

interface Opened {
  ws: Workspace;
  stages: IngestStage[];
  cycles: CycleStage;
}

/** Reads the base state first: the stages read their store as they are created. */
async function open(pool: Pool, config: CycleConfig, clock: () => number): Promise<Opened> {
  const ws = createWorkspace(pool);
  await ws.loadBase();
  const cycles = createCycleStage({
    config,
    clock,
    queries: createPgRollupQueries(ws),
    // The writes are buffered in the workspace; closeStale below writes them in their own transaction.
    transaction: (write) => write(),
  });
  const stages = [
    createClientStage({ meta: createPgMeta(ws) }),
    cycles,
    createTermsStage(createPgTermSink(ws)),
  ];
  return { ws, stages, cycles };
}

export function createPgDerivation({
  pool,
  config,
  clock = Date.now,
  batchSize = 500,
  settleMs = 0,
  onReset,
  onDerived,
}: PgDerivationOptions): PgDerivation {
  const log = createOperationsLog(pool);
  let opened: Promise<Opened> | null = null;
  /** a failed batch whose reload failed too (the database went away): reload before the next one */
  let needsReload = false;
  // One batch at a time: the workspace and the stages are this consumer's alone.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(run: () => Promise<T>): Promise<T> => {
    const result = queue.then(run);
    queue = result.catch(() => {});
    return result;
  };

  async function ready(): Promise<Opened> {
    const opening = !opened;
    if (!opened) opened = open(pool, config, clock);
    let o: Opened;
    try {
      o = await opened;
    } catch (err) {
      opened = null;
      throw err;
    }
    if (opening) onReset?.();
    if (needsReload) await reload(o);
    return o;
  }

  async function reload(o: Opened): Promise<void> {
    needsReload = true;
    await o.ws.reset();
    needsReload = false;
    for (const stage of o.stages) stage.onRollback?.();
    onReset?.();
  }

  /** Runs the stages (`derive`) and writes the batch back; on failure, everything as the database has it again. */
  async function commit(o: Opened, ops: StoredOperation[], after: LogCursor, derive: () => void) {
    const client = await pool.connect();
    let broken = false;
    try {
      derive();
      await client.query('begin');
      const writes = o.ws.writes();
      const version = await writeBack(client, {
        ops,
        writes,
        next: o.ws.nextIds(),
        before: o.ws.committedIds(),
        cursor: after,
        fence: o.ws.fence(),
        identity: o.ws.identity.get,
      });
      await client.query('commit');
      o.ws.committed(after, version);
    } catch (err) {
      broken = true;
      await client.query('rollback').catch(() => {});
      // Refused: another derivation committed. Nothing this one holds is true any more: the next batch starts
      // afresh from what is committed, workspace and stages new, as a new leader would.
      if (err instanceof FencedError) {
        opened = null;
        needsReload = false;
      } else await reload(o).catch(() => {});
      throw err;
    } finally {
      client.release(broken);
    }
  }

  async function step({ now = false }: { now?: boolean } = {}): Promise<number> {
    const o = await ready();
    const read = await log.readAfter(o.ws.cursor(), batchSize);
    const { operations, cursor: after } = now || settleMs === 0 ? read : settled(read, clock(), settleMs, o);
    // Writes left by a stage's reload (a stale running cycle closed) go out even with nothing new to derive.
    if (operations.length === 0 && o.ws.writes().length === 0) return 0;
    // Request time order (stable: the log's order among equal times), for the stages fold what they are given
    // in order: the last operation of a user is the one Entra sent last, whichever replica committed it first.
    const ops = operations.map(toStoredOperation).sort((a, b) => a.time - b.time);
    await o.ws.prefetch(lookupsOf(ops));
    await commit(o, ops, after, () => {
      // The stages' beforeInsert / afterInsert keep their meaning (store/derivation.ts): the first labels each
      // operation, the second folds the labelled operations.
      for (const stage of o.stages) stage.beforeInsert?.(ops);
      for (const stage of o.stages) stage.afterInsert?.(ops);
    });
    if (ops.length > 0) onDerived?.(ops);
    return ops.length;
  }

  const serialStep = (options?: { now?: boolean }) => serial(() => step(options));
  return {
    step: serialStep,
    async drain() {
      let total = 0;
      for (let n = await serialStep({ now: true }); n > 0; n = await serialStep({ now: true })) total += n;
      return total;
    },
    closeStale: (now) =>
      serial(async () => {
        const o = await ready();
        let closed = false;
        await commit(o, [], o.ws.cursor(), () => {
          closed = o.cycles.closeStale(now);
        });
        return closed;
      }),
    cursor: () => serial(async () => (await ready()).ws.cursor()),
  };
}
