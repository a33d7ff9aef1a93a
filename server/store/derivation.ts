import type { Db } from './db.js';
import {
  type IngestStage,
  type LogWrite,
  type OperationRecord,
  prepareInsert,
  type StoredOperation,
  toDerived,
} from './ingest.js';
import { metaTable } from './meta.js';
import { createPendingLog, operationRowColumns, type PendingLog, parseArray } from './pending.js';

// The log is the operations table, and the rows of pending_operations that wait to join it (pending.ts);
// everything derived from it (clients, cycles, identities and memberships, search terms, detection input,
// metrics) is computed by one consumer that reads the log in id order from a persisted cursor (issue 12 §2). The
// cursor moves in the same transaction as the derived writes, so a crash between recording and derivation loses
// nothing: the next process derives from where the cursor stands. Operation ids come from AUTOINCREMENT, and
// pending rows get ids after its high-water mark: they only grow, so "id > cursor" is exactly what is not derived
// yet, even after retention deleted old rows.
//
// Three ways in, one result. When derivation is caught up, the log writer hands it the batch it is writing
// (`writeThrough`): the stages label the rows before the insert and fold them after it, in the insert's own
// transaction, so nothing is read back and no row is written twice. When it is behind (a burst the writer chose to
// log first, a crash), the writer appends to pending_operations, and `step` moves those rows into the log in id
// order, labelled on the way. After a rebuild (the cursor reset), `step` reads the log itself from the cursor and
// labels its rows with an UPDATE. The property test (derivation.test.ts) mixes them at random and compares the
// result with a rebuild.

export const cursorKey = 'derivation.cursor';

export interface DerivationLag {
  /** operations recorded but not derived yet */
  operations: number;
  /** age of the oldest of them (by request time), 0 when none */
  seconds: number;
  /** id of the last operation derived */
  cursor: number;
}

export interface Derivation {
  /**
   * Derive at most one batch, in one transaction with the cursor. Returns how many operations it derived (0:
   * nothing new). Throws what the database throws (busy, full): the derived state and the cursor stay as they
   * were, and the caller tries again later. `wait: false`: a lock held elsewhere fails the batch at once instead
   * of after the busy timeout (the proxy's thread must not wait on it).
   */
  step(options?: { wait?: boolean }): number;
  /** derive until the cursor reaches the end of the log, or a batch fails (then throws) */
  drain(): number;
  /**
   * Write `records` to the log with `insert`, in one transaction, and derive them in it too when nothing before
   * them waits (the cursor is at the end of the log); otherwise only write them, for `step` to derive later.
   * Throws what the database throws, with nothing written and the stages reloaded.
   */
  writeThrough(records: OperationRecord[], insert: LogInsert): LogWrite;
  lag(now: number): DerivationLag;
  /**
   * Whether the log holds rows past the cursor, without taking the write lock: from what this process logged
   * (writeThrough, logged), and at most once a second from the log's last id as well (see lookEveryMs).
   */
  behind(): boolean;
  /** the log writer wrote rows up to `lastId` without deriving them (a burst logged alone) */
  logged(lastId: number): void;
}

/**
 * How often `behind` also reads the log's last id. This process's own writes are known without a read; the read is
 * the safety net for rows it did not write itself. Each read is a read transaction (about 40 µs): an idle consumer
 * looks every 25 ms, and with 20 apps reading every time cost more CPU than forwarding their requests.
 */
const lookEveryMs = 1_000;

/** Rows moved from pending_operations into the log per transaction (see movePending). */
const moveBatch = 100;

/** The log's insert (ingest.ts): runs inside the caller's transaction, returns the rows with their ids. */
export type LogInsert = (records: OperationRecord[]) => StoredOperation[];

export interface DerivationOptions {
  db: Db;
  stages: IngestStage[];
  /** operations per transaction: bounds how long one step holds the event loop */
  batchSize?: number;
}

/** What the log holds of an operation, as derivation reads it (no bodies; labels and JSON arrays not yet read). */
export type OperationRow = Omit<
  StoredOperation,
  | 'modifiedProperties'
  | 'members'
  | 'cycleId'
  | 'identityId'
  | 'requestBody'
  | 'responseBody'
  | 'requestTruncated'
  | 'responseTruncated'
> & {
  modifiedProperties: string;
  members: string;
};

export function readCursor(db: Db): number {
  return metaTable(db).number(cursorKey);
}

/**
 * Derivation's lag as the database says it, from any connection (the proxy's thread, while the log writer thread
 * derives): operations after the persisted cursor, and the age of the oldest of them.
 */
export function createLagReader(db: Db): (now: number) => DerivationLag {
  const log = logEnds(db, createPendingLog(db));
  return (now) => {
    const cursor = readCursor(db);
    return lagAt(cursor, log.end(), log.oldestAfter(cursor), now);
  };
}

/**
 * Where the log ends and what waits in it after a cursor, across its two tables: rows of `operations` after the
 * cursor (a rebuild, or a database from before pending_operations), then the pending rows, which come after them.
 */
function logEnds(db: Db, pending: PendingLog) {
  const sqlite = db.$client;
  const lastId = sqlite.prepare('select max(id) from operations').pluck();
  const oldestAfter = sqlite.prepare('select time from operations where id > ? order by id limit 1').pluck();
  return {
    end: () => Math.max(Number(lastId.get() ?? 0), pending.lastId()),
    oldestAfter: (cursor: number) =>
      (oldestAfter.get(cursor) as number | undefined) ?? pending.oldestTime(cursor),
  };
}

function lagAt(cursor: number, last: number, oldest: number | undefined, now: number): DerivationLag {
  return {
    operations: Math.max(0, last - cursor),
    seconds: oldest === undefined ? 0 : Math.max(0, (now - oldest) / 1000),
    cursor,
  };
}

/** Sets the cursor (a rebuild resets it to 0 before deriving everything again). */
export function writeCursor(db: Db, id: number): void {
  metaTable(db).set(cursorKey, String(id));
}

/**
 * One batch of the log after the cursor, in id order. Bodies are not read: no stage looks at them, and they are
 * most of the bytes.
 */
const selectAfterCursor = `select ${operationRowColumns} from operations where id > ? order by id limit ?`;

/** A row of the log as the stages take it: not labelled yet, without its bodies. */
export function toStoredOperation(r: OperationRow): StoredOperation {
  return {
    ...r,
    modifiedProperties: parseArray(r.modifiedProperties),
    members: parseArray(r.members),
    // Derived afresh, also by a rebuild: the stages assign cycle and identity.
    cycleId: null,
    identityId: null,
    requestBody: null,
    responseBody: null,
    requestTruncated: false,
    responseTruncated: false,
  };
}

export function createDerivation({ db, stages, batchSize = 500 }: DerivationOptions): Derivation {
  const sqlite = db.$client;
  const pending = createPendingLog(db);
  const log = logEnds(db, pending);
  const logEnd = log.end;
  const meta = metaTable(db);
  const readCursorNow = () => meta.number(cursorKey);
  // Kept in memory between batches (this consumer is the only one that moves it while scimtap runs); read again
  // after a failed batch, when the transaction that would have moved it rolled back.
  let cursor = readCursorNow();
  const end = knownLogEnd(logEnd);

  const deriveBatch = batchDeriver(db, stages, batchSize, pending);

  const busyTimeout = sqlite.pragma('busy_timeout', { simple: true }) as number;
  function step({ wait = true } = {}): number {
    let ops: StoredOperation[];
    if (!wait) sqlite.pragma('busy_timeout = 0');
    try {
      // IMMEDIATE: take the write lock first, so a writer on another connection makes this fail at once
      // (SQLITE_BUSY) instead of after the batch's reads.
      ops = deriveBatch.immediate(cursor);
    } catch (err) {
      cursor = readCursorNow();
      for (const stage of stages) stage.onRollback?.();
      throw err;
    } finally {
      // Before afterCommit: what the stages do there (a WAL checkpoint) may wait for readers as usual.
      if (!wait) sqlite.pragma(`busy_timeout = ${busyTimeout}`);
    }
    if (ops.length > 0) cursor = ops[ops.length - 1].id;
    if (ops.length > 0) afterCommit(ops);
    return ops.length;
  }

  function afterCommit(ops: StoredOperation[]): void {
    if (!stages.some((s) => s.afterCommit)) return;
    const derived = ops.map(toDerived);
    for (const stage of stages) stage.afterCommit?.(derived);
  }

  const writeBatch = sqlite.transaction((records: OperationRecord[], insert: LogInsert) => {
    // Behind: these rows wait their turn behind the ones before them.
    if (logEnd() !== cursor) return { stored: pending.insert(records), derived: false };
    for (const stage of stages) stage.beforeInsert?.(records);
    const stored = insert(records);
    for (const stage of stages) stage.afterInsert?.(stored);
    if (stored.length > 0) meta.set(cursorKey, String(stored[stored.length - 1].id));
    return { stored, derived: true };
  });

  function writeThrough(records: OperationRecord[], insert: LogInsert): LogWrite {
    let result: { stored: StoredOperation[]; derived: boolean };
    try {
      result = writeBatch.immediate(records, insert);
    } catch (err) {
      cursor = readCursorNow();
      for (const stage of stages) stage.onRollback?.();
      throw err;
    }
    const { stored, derived } = result;
    const last = stored.length ? stored[stored.length - 1].id : 0;
    end.logged(last);
    if (derived && stored.length > 0) {
      cursor = last;
      afterCommit(stored);
    }
    return { lastId: last, derived };
  }

  return {
    step,
    writeThrough,
    drain() {
      let total = 0;
      for (let n = step(); n > 0; n = step()) total += n;
      return total;
    },
    lag: (now) => lagAt(cursor, logEnd(), log.oldestAfter(cursor), now),
    behind: () => end.after(cursor),
    logged: end.logged,
  };
}

/**
 * One batch of derivation, in a transaction (the caller's `immediate`): the log's rows after the cursor, labelled
 * where they are; or, when there are none, the next pending rows, labelled on their way into the log.
 */
function batchDeriver(db: Db, stages: IngestStage[], batchSize: number, pending: PendingLog) {
  const sqlite = db.$client;
  const meta = metaTable(db);
  const select = sqlite.prepare(selectAfterCursor);
  const assign = sqlite.prepare(
    'update operations set cycle_id = ?, identity_id = ?, client_kind = ? where id = ?',
  );
  // The cycles stage names the target of a call addressed by id (a PATCH, a DELETE) from what it learnt before.
  const assignNamed = sqlite.prepare(
    'update operations set cycle_id = ?, identity_id = ?, client_kind = ?, identity = ? where id = ?',
  );
  const insertMoved = prepareInsert(db);

  // The stages' beforeInsert / afterInsert keep their meaning from the days they ran around the insert: the first
  // labels each operation (client, cycle, identity), the second sees them labelled, inside the transaction.
  const deriveBatch = sqlite.transaction((after: number): StoredOperation[] => {
    const rows = select.all(after, batchSize) as OperationRow[];
    if (rows.length === 0) return movePending(after);
    const ops = rows.map(toStoredOperation);
    const named = rows.map((r) => r.identity);
    for (const stage of stages) stage.beforeInsert?.(ops);
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i];
      // Only a changed name rewrites the identity column (and its index).
      if (op.identity !== named[i])
        assignNamed.run(op.cycleId, op.identityId, op.clientKind, op.identity, op.id);
      else assign.run(op.cycleId, op.identityId, op.clientKind, op.id);
    }
    for (const stage of stages) stage.afterInsert?.(ops);
    meta.set(cursorKey, String(ops[ops.length - 1].id));
    return ops;
  });

  /**
   * The next pending rows into the log, labelled on the way, under their ids (inside deriveBatch). At most
   * `moveBatch` at a time: a moved row costs what a row written through costs, and the writer's batches are that
   * long, so the transaction holds the write lock no longer than a write does (the proxy's thread's own writes wait
   * 10 ms for it).
   */
  function movePending(after: number): StoredOperation[] {
    const ops = pending.read(after, Math.min(batchSize, moveBatch));
    if (ops.length === 0) return [];
    for (const stage of stages) stage.beforeInsert?.(ops);
    insertMoved(ops);
    const last = ops[ops.length - 1].id;
    pending.moved(last);
    for (const stage of stages) stage.afterInsert?.(ops);
    meta.set(cursorKey, String(last));
    return ops;
  }
  return deriveBatch;
}

/** The end of the log as far as this process knows: what it wrote, and the last id read (lookEveryMs). */
function knownLogEnd(read: () => number) {
  let known = read();
  let lookedAt = performance.now();
  return {
    logged(lastId: number): void {
      known = Math.max(known, lastId);
    },
    /** whether the log holds rows past `cursor` */
    after(cursor: number): boolean {
      if (known > cursor) return true;
      const now = performance.now();
      if (now - lookedAt < lookEveryMs) return false;
      lookedAt = now;
      known = Math.max(known, read());
      return known > cursor;
    },
  };
}
