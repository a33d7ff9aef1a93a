import type { RecorderStats } from '../recorder.js';
import type { Pool } from './pool.js';

// What each replica says of itself, where any replica can read it: /api/health on any of them lists them all,
// which one leads, and each one's recorder. A recorder's counts live in its own process only, so each replica
// writes its state into a meta row of its own (`replica.<name>`) every few seconds; one that stops deletes its
// row, one that dies leaves it to go stale (shown as such) and the leader removes it an hour later.

export interface ReplicaState {
  replica: string;
  version: string;
  /** whether it holds the lead (derives, detects, evaluates) */
  leading: boolean;
  recorder: Pick<RecorderStats, 'queued' | 'written' | 'dropped' | 'failing' | 'lastError' | 'lastErrorAt'>;
  startedAt: number;
  heartbeatAt: number;
}

export interface ReplicaView extends ReplicaState {
  /** no heartbeat for `staleMs`: the process is gone or cannot reach the database */
  stale: boolean;
}

const prefix = 'replica.';
/** a replica not heard of for this long is shown stale */
export const replicaStaleMs = 30_000;
/** and forgotten after this long */
const forgetMs = 60 * 60_000;

export async function writeReplicaState(pool: Pool, state: ReplicaState): Promise<void> {
  await pool.query(
    `insert into meta (key, value) values ($1, $2)
     on conflict (key) do update set value = excluded.value`,
    [prefix + state.replica, JSON.stringify(state)],
  );
}

export async function removeReplicaState(pool: Pool, replica: string): Promise<void> {
  await pool.query('delete from meta where key = $1', [prefix + replica]);
}

/** Every replica heard of in the last hour, by name; a row this version cannot read is skipped. */
export async function listReplicas(pool: Pool, now: number): Promise<ReplicaView[]> {
  const { rows } = await pool.query<{ value: string }>(
    "select value from meta where key like 'replica.%' order by key",
  );
  const views: ReplicaView[] = [];
  for (const { value } of rows) {
    let state: ReplicaState;
    try {
      state = JSON.parse(value) as ReplicaState;
    } catch {
      continue;
    }
    if (typeof state?.replica !== 'string' || typeof state.heartbeatAt !== 'number') continue;
    if (now - state.heartbeatAt > forgetMs) continue;
    views.push({ ...state, stale: now - state.heartbeatAt > replicaStaleMs });
  }
  return views;
}

/** The leader's chore: rows of replicas gone for an hour. */
export async function forgetGoneReplicas(pool: Pool, now: number): Promise<number> {
  const r = await pool.query(
    `delete from meta where key like 'replica.%' and (value::jsonb ->> 'heartbeatAt')::bigint < $1`,
    [now - forgetMs],
  );
  return r.rowCount ?? 0;
}

export interface ReplicaHeartbeat {
  /** write the state now (also done every `everyMs`) */
  beat(): Promise<void>;
  /** stop, and delete this replica's row: a replica that stopped is not a stale one */
  stop(): Promise<void>;
}

export function startReplicaHeartbeat(
  pool: Pool,
  {
    state,
    clock = Date.now,
    everyMs = 5_000,
    onError,
  }: {
    state: () => Omit<ReplicaState, 'heartbeatAt'>;
    clock?: () => number;
    everyMs?: number;
    onError?: (err: unknown) => void;
  },
): ReplicaHeartbeat {
  let stopped = false;
  let inFlight: Promise<void> = Promise.resolve();
  const beat = () => {
    if (stopped) return inFlight;
    inFlight = inFlight
      .then(() => writeReplicaState(pool, { ...state(), heartbeatAt: clock() }))
      .catch((err) => onError?.(err));
    return inFlight;
  };
  const timer = setInterval(() => void beat(), everyMs);
  timer.unref();
  void beat();
  return {
    beat,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await inFlight;
      await removeReplicaState(pool, state().replica).catch((err) => onError?.(err));
    },
  };
}
