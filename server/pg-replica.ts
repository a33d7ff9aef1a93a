import type { PgAlertEngine } from './alerts/pg-engine.js';
import type { MetricsRegistry } from './api/metrics.js';
import type { ReplicasHealth } from './api/routes/health.js';
import { startJobs } from './jobs/index.js';
import { pgRetentionJob } from './jobs/pg-retention.js';
import type { PgConsumer, PgDerivationLag } from './store/pg/derive/consumer.js';
import { currentLeader } from './store/pg/lease.js';
import { driverError } from './store/pg/log-write.js';
import type { Pool } from './store/pg/pool.js';
import { forgetGoneReplicas, listReplicas, startReplicaHeartbeat } from './store/pg/replicas.js';
import type { RecorderStats } from './store/recorder.js';
import type { Wiring } from './wiring.js';

// What a PostgreSQL replica does beside its pipeline (pg-pipeline.ts): it says how it is (a meta row every 5 s,
// read by /api/health on any replica), what /metrics reads of the database, and its periodic jobs.

/**
 * What this replica says of itself in the database every 5 s (pg/replicas.ts), and what /api/health shows of
 * them all: the leader (from the lock itself, not from what the replicas last said), and each replica's state.
 */
export function startPresence(
  { clock, closers }: Wiring,
  pool: Pool,
  self: {
    replica: string;
    version: string;
    consumer: PgConsumer;
    recorderStats: () => RecorderStats;
    logger: Wiring['logger'];
  },
): () => Promise<ReplicasHealth> {
  const { replica, version, consumer, logger } = self;
  const startedAt = clock();
  const heartbeat = startReplicaHeartbeat(pool, {
    clock,
    state: () => ({
      replica,
      version,
      leading: consumer.leading,
      recorder: pickRecorder(self.recorderStats()),
      startedAt,
    }),
    onError: (err) => logger.debug({ err: driverError(err) }, 'replica heartbeat failed'),
  });
  closers.add('replica heartbeat', () => heartbeat.stop());
  return async () => ({
    self: replica,
    leader: (await currentLeader(pool))?.replica ?? null,
    replicas: await listReplicas(pool, clock()),
  });
}

function pickRecorder(s: RecorderStats) {
  const { queued, written, dropped, failing, lastError, lastErrorAt } = s;
  return { queued, written, dropped, failing, lastError, lastErrorAt };
}

/**
 * prom-client reads gauges synchronously: the lag, a database read, is kept from the last time anyone asked for it
 * (/api/health) or the job every 5 s.
 */
export function registerReplicaMetrics(
  metrics: ReturnType<MetricsRegistry['forApp']>,
  consumer: PgConsumer,
  alerts: PgAlertEngine,
  lag: { last: PgDerivationLag | null; pending: number },
): void {
  metrics.gauge('scimtap_leader', '1 while this replica holds the lead (derives, detects, evaluates)', () =>
    consumer.leading ? 1 : 0,
  );
  metrics.gauge('scimtap_incidents_firing', 'Incidents firing now', () => alerts.firingCount());
  // As on SQLite (wiring.ts); a database read, so kept from the last tick, health read or job run (every 5 s).
  metrics.gauge('scimtap_notifications_pending', 'Emails in the outbox not delivered yet', () => lag.pending);
  metrics.gauge(
    'scimtap_derivation_lag_operations',
    'Operations recorded but not yet derived into cycles, identities and detection',
    () => lag.last?.operations ?? 0,
  );
  metrics.gauge(
    'scimtap_derivation_lag_seconds',
    'Age of the oldest operation not yet derived (0 when caught up)',
    () => lag.last?.seconds ?? 0,
  );
}

/**
 * The leader evaluates on a tick, sends due notifications (a follower's poll finds nothing to do: alerts/pg-engine.ts)
 * and forgets gone replicas; every replica refreshes what /metrics reads of the database.
 */
export function startPgJobs(
  w: Wiring,
  deps: {
    pool: Pool;
    alerts: PgAlertEngine;
    consumer: PgConsumer;
    readLag: () => Promise<unknown>;
    readPending: () => Promise<void>;
    logger: Wiring['logger'];
  },
): void {
  const { options, clock, closers, config } = w;
  if (options.periodicJobs === false) return;
  const { pool, alerts, consumer } = deps;
  const jobs = startJobs(
    [
      {
        name: 'alerts.evaluate',
        schedule: { everyMs: 15_000 },
        runAfterStartMs: 0,
        run: () => void alerts.evaluate(),
      },
      {
        // The leader alone sends (alerts/pg-engine.ts): what another replica queued (a test, an
        // acknowledgement) reaches it by this poll, one claim statement every 2 s.
        name: 'notify.deliver',
        schedule: { everyMs: 2_000 },
        runAfterStartMs: 1_000,
        run: async () => {
          await alerts.outbox.deliverDue();
        },
      },
      {
        // What /metrics shows of the database (read synchronously there): the lag, the firing incidents, the
        // emails pending.
        name: 'replica.readings',
        schedule: { everyMs: 5_000 },
        run: async () => {
          await deps.readLag();
          await alerts.firingIncidents();
          await deps.readPending();
        },
      },
      {
        name: 'replicas.forget',
        schedule: { everyMs: 10 * 60_000 },
        run: async () => {
          if (consumer.leading) await forgetGoneReplicas(pool, clock());
        },
      },
      pgRetentionJob({ pool, config, clock, leading: () => consumer.leading }),
    ],
    { logger: deps.logger },
  );
  closers.add('jobs', () => jobs.stop());
}
