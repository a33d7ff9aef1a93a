import type { CycleConfig } from '../../../cycles/index.js';
import type { DerivationLag } from '../../derivation.js';
import { type LeaseOptions, startLeaderLease } from '../lease.js';
import { parseCursor } from '../log.js';
import type { Pool } from '../pool.js';
import { createPgDerivation, type PgDerivation, type PgDerivationOptions } from './derivation.js';
import { FencedError } from './flush.js';
import { cursorKey } from './workspace.js';

// The leader's consumer on PostgreSQL: every replica runs one, and the one holding the leader lease (lease.ts)
// derives. On a timer it steps until caught up, one batch per turn of the event loop, and closes a stale cycle
// now and then. SQLite's consumer (store/consumer.ts) is kicked by the log writer of its own process; here the
// rows come from every replica, so the timer is the only way in.
//
// Each term of leadership derives with a derivation of its own, created when the lead is gained: it starts from
// the committed cursor and state, never from what an earlier term held in memory. Losing the lead stops the loop
// at once; a batch already in flight may still commit, and the write-back's fence (flush.ts claimCursor) makes
// sure that of it and the new leader's first batch only one does.

export interface PgConsumerStats {
  /** whether this replica holds the lead (and so derives) */
  leading: boolean;
  /** operations derived by this replica since start */
  derived: number;
  /** true while the last attempt failed */
  failing: boolean;
  lastError: string | null;
}

/** DerivationLag on PostgreSQL; `operations` is an exact count up to `lagScanLimit`, `exact` false beyond. */
export interface PgDerivationLag extends DerivationLag {
  exact: boolean;
}

export interface PgConsumer {
  readonly leading: boolean;
  stats(): PgConsumerStats;
  /** what is recorded and not derived yet, as the database says: any replica can ask */
  lag(now: number): Promise<PgDerivationLag>;
  /** on the leader: derive until caught up (what tests and `flush` wait for); elsewhere nothing */
  drain(): Promise<void>;
  /** stops the timer, waits for a batch in flight, releases the lead */
  stop(): Promise<void>;
}

export interface PgConsumerOptions extends Omit<LeaseOptions, 'onChange' | 'onError'> {
  pool: Pool;
  config: CycleConfig;
  clock?: () => number;
  batchSize?: number;
  /** PgDerivationOptions.settleMs */
  settleMs?: number;
  /** how often the leader looks for new rows */
  intervalMs?: number;
  /** how often the leader closes a stale cycle (see below) */
  closeStaleEveryMs?: number;
  onError?: (err: unknown) => void;
  onLeadChange?: (leading: boolean) => void;
  /**
   * Run when the lead is gained, before the term derives anything, and again after a refused batch (a deposed
   * leader's batch committed first): what follows derivation (detection) rebuilds itself from what is committed,
   * so that no batch is both replayed and handed over. Until it succeeds the term does not derive.
   */
  onLead?: () => Promise<void>;
  /** each committed batch's labelled operations, on the leader (PgDerivationOptions.onDerived) */
  onDerived?: PgDerivationOptions['onDerived'];
  /** how a term's derivation is made (tests observe it) */
  createDerivation?: (options: PgDerivationOptions) => PgDerivation;
}

/**
 * closeStale once a minute, where SQLite's job runs every 10 s: on PostgreSQL each call is a write transaction
 * (it moves the cursor's row, to fence), and a cycle closes after a silence of `cycleGapMinutes` (minutes), so a
 * minute late is within the rule's own grain. It also runs once the first catch-up of a term is done, for a cycle
 * left running while nobody led.
 */
const defaultCloseStaleEveryMs = 60_000;
/**
 * Operations are derived once a second old: each replica writes what it recorded within 100 ms (pg-pipeline.ts)
 * while its database answers, so an earlier request's row committed by another replica has joined the log by
 * then (derivation.ts settleMs). Derivation, and so detection, runs a second behind the traffic.
 */
const defaultSettleMs = 1_000;
/** rows counted at most for `lag` */
export const lagScanLimit = 100_000;

interface Term {
  derivation: PgDerivation;
  active: boolean;
  closedStaleAt: number;
  /** onLead has run for this term (since its last refused batch) */
  ready: boolean;
}

const yieldTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

export function startPgConsumer({
  pool,
  config,
  clock = Date.now,
  batchSize,
  settleMs = defaultSettleMs,
  intervalMs = 250,
  closeStaleEveryMs = defaultCloseStaleEveryMs,
  onError,
  onLeadChange,
  onLead,
  onDerived,
  createDerivation = createPgDerivation,
  ...lease
}: PgConsumerOptions): PgConsumer {
  const stats: PgConsumerStats = { leading: false, derived: 0, failing: false, lastError: null };
  let term: Term | null = null;
  let inFlight: Promise<void> | null = null;
  let stopped = false;
  let retryAt = 0;
  let backoffMs = 0;

  const leader = startLeaderLease({
    ...lease,
    onChange(leading) {
      stats.leading = leading;
      if (term) term.active = false;
      term = leading
        ? {
            derivation: createDerivation({ pool, config, clock, batchSize, settleMs, onDerived }),
            active: true,
            closedStaleAt: 0,
            ready: false,
          }
        : null;
      retryAt = 0;
      backoffMs = 0;
      onLeadChange?.(leading);
      if (leading) tick();
    },
    onError,
  });

  /**
   * Until caught up, then closeStale when due; stops as soon as the term ends. `unsettled`: derive what is there
   * without waiting for it to settle (drain).
   */
  async function run(t: Term, unsettled = false): Promise<void> {
    if (!t.ready) {
      await onLead?.();
      t.ready = true;
    }
    while (t.active) {
      const n = await t.derivation.step({ now: unsettled });
      stats.derived += n;
      stats.failing = false;
      backoffMs = 0;
      if (n === 0) break;
      await yieldTurn();
    }
    const now = performance.now();
    if (t.active && (t.closedStaleAt === 0 || now - t.closedStaleAt >= closeStaleEveryMs)) {
      await t.derivation.closeStale(clock());
      t.closedStaleAt = now;
    }
  }

  function failed(t: Term, err: unknown): void {
    // The lead was lost meanwhile: the batch raced the new leader (the fence refused it) or lost its server.
    if (!t.active) return;
    // A deposed leader's last batch committed first: this term's derivation starts afresh, at once, and so
    // does what follows it.
    if (err instanceof FencedError) {
      t.ready = false;
      return;
    }
    stats.failing = true;
    stats.lastError = (err as Error)?.message ?? String(err);
    backoffMs = Math.min(5_000, backoffMs ? backoffMs * 2 : 250);
    retryAt = performance.now() + backoffMs;
    onError?.(err);
  }

  function tick(): void {
    const t = term;
    if (stopped || inFlight || !t || performance.now() < retryAt) return;
    inFlight = run(t)
      .catch((err) => failed(t, err))
      .finally(() => {
        inFlight = null;
      });
  }

  const timer = setInterval(tick, intervalMs);
  timer.unref();

  return {
    get leading() {
      return leader.leading;
    },
    stats: () => ({ ...stats }),
    lag: (now) => readPgLag(pool, now),
    async drain() {
      while (inFlight) await inFlight;
      const t = term;
      if (stopped || !t) return;
      inFlight = run(t, true)
        .catch((err) => failed(t, err))
        .finally(() => {
          inFlight = null;
        });
      await inFlight;
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      if (term) term.active = false;
      await inFlight;
      await leader.stop();
    },
  };
}

/**
 * Derivation's lag on PostgreSQL, from the committed cursor: the rows after it in log order, counted exactly up to
 * `lagScanLimit` (an index range scan on (txid, id), bounded however far behind derivation is), and the age of the
 * first of them by request time. Rows of transactions still open count too: recorded, not derived.
 */
export async function readPgLag(pool: Pool, now: number): Promise<PgDerivationLag> {
  const { rows: meta } = await pool.query<{ value: string }>('select value from meta where key = $1', [
    cursorKey,
  ]);
  const cursor = parseCursor(meta[0]?.value);
  const after = [cursor.txid, cursor.id];
  const { rows: counted } = await pool.query<{ n: number }>(
    `select count(*)::int as n from (select 1 from operations
       where (txid, id) > ($1::xid8, $2) order by txid, id limit $3) as behind`,
    [...after, lagScanLimit],
  );
  const { rows: first } = await pool.query<{ time: string }>(
    'select time from operations where (txid, id) > ($1::xid8, $2) order by txid, id limit 1',
    after,
  );
  const operations = counted[0]?.n ?? 0;
  const oldest = first[0] ? Number(first[0].time) : undefined;
  return {
    operations,
    exact: operations < lagScanLimit,
    seconds: oldest === undefined ? 0 : Math.max(0, (now - oldest) / 1000),
    cursor: cursor.id,
  };
}
