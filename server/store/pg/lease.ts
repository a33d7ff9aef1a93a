import pg from 'pg';
import { advisoryLockKeys, type Pool } from './pool.js';

// Exactly one replica at a time derives, detects and sends: the one holding a session advisory lock on a
// connection of its own (not the pool's, whose connections come and go). PostgreSQL frees the lock when that
// session ends, so a leader that dies gives the lead away without anyone having to expire anything:
// - process killed: its socket closes, the server ends the session at once;
// - host or network gone: the server's TCP keepalives (set below: 5 s idle, 2 s x 3 probes) end it in ~11 s;
// - its connection killed (pg_terminate_backend, a server restart): at once.
// The other replicas try for the lock every `retryMs`, so one takes over within 15 s. A leader that cannot
// reach the server steps down after its heartbeat fails (`retryMs` + `heartbeatTimeoutMs`, ~5 s), before the
// server can free the lock (~11 s): two replicas never both believe they lead. A replica that lost the lead
// against its will (session killed, server unreachable) waits three tries before contending again, so a
// healthy replica takes over rather than the one whose connection just failed.

export interface LeaderLease {
  readonly leading: boolean;
  stop(): Promise<void>;
}

export interface LeaseOptions {
  url: string;
  /** this replica's name, shown as the lock session's application_name (how `currentLeader` finds it) */
  replica: string;
  /** told when this replica gains or loses the lead */
  onChange?: (leading: boolean) => void;
  onError?: (err: Error) => void;
  retryMs?: number;
  heartbeatTimeoutMs?: number;
}

const key = advisoryLockKeys.leader.toString();

export function startLeaderLease({
  url,
  replica,
  onChange,
  onError,
  retryMs = 2_000,
  heartbeatTimeoutMs = 3_000,
}: LeaseOptions): LeaderLease {
  let client: pg.Client | undefined;
  let leading = false;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let contendAfter = 0;

  const setLeading = (value: boolean) => {
    if (leading === value) return;
    leading = value;
    onChange?.(value);
  };
  const drop = (err?: Error) => {
    if (err && !stopped) onError?.(err);
    if (leading) contendAfter = Date.now() + 3 * retryMs;
    setLeading(false);
    const old = client;
    client = undefined;
    old?.end().catch(() => {});
  };

  const connect = async (): Promise<pg.Client> => {
    const c = new pg.Client({
      connectionString: url,
      application_name: `scimtap:${replica}`,
      connectionTimeoutMillis: heartbeatTimeoutMs,
      query_timeout: heartbeatTimeoutMs,
      keepAlive: true,
      keepAliveInitialDelayMillis: 5_000,
    });
    c.on('error', (err) => {
      if (client === c) drop(err);
    });
    c.on('end', () => {
      if (client === c) drop(new Error('leader lease: connection closed'));
    });
    await c.connect();
    // So that the server notices a vanished leader (host down, network cut) and frees its lock within ~11 s.
    await c.query(
      'set tcp_keepalives_idle = 5; set tcp_keepalives_interval = 2; set tcp_keepalives_count = 3',
    );
    return c;
  };

  const tick = async () => {
    try {
      if (!client) {
        const c = await connect();
        if (stopped) {
          await c.end();
          return;
        }
        client = c;
      }
      const c = client;
      if (leading) {
        // Heartbeat: a leader that cannot reach the server must step down before the server frees the lock.
        await c.query('select 1');
      } else if (Date.now() >= contendAfter) {
        const { rows } = await c.query<{ got: boolean }>('select pg_try_advisory_lock($1) as got', [key]);
        if (rows[0]?.got && client === c && !stopped) setLeading(true);
      }
    } catch (err) {
      drop(err as Error);
    } finally {
      if (!stopped) timer = setTimeout(tick, retryMs);
    }
  };
  void tick();

  return {
    get leading() {
      return leading;
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      const c = client;
      client = undefined;
      setLeading(false);
      // Closing the session frees the lock: the next replica takes over at its next try.
      await c?.end().catch(() => {});
    },
  };
}

/** Which replica leads now (its `replica` name) and its session's pid, or null: any replica can ask. */
export async function currentLeader(pool: Pool): Promise<{ replica: string; pid: number } | null> {
  const high = Number(advisoryLockKeys.leader >> 32n);
  const low = Number(advisoryLockKeys.leader & 0xffff_ffffn);
  const { rows } = await pool.query<{ name: string; pid: number }>(
    `select a.application_name as name, l.pid from pg_locks l join pg_stat_activity a on a.pid = l.pid
     where l.locktype = 'advisory' and l.granted and l.database = (select oid from pg_database
       where datname = current_database()) and l.classid = $1::oid and l.objid = $2::oid and l.objsubid = 1`,
    [high, low],
  );
  const row = rows[0];
  return row ? { replica: row.name.replace(/^scimtap:/, ''), pid: row.pid } : null;
}
