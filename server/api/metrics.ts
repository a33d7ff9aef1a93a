import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Db } from '../store/db.js';
import type { IngestStage, StoredOperation } from '../store/ingest.js';
import { countCycles, countFailingIdentities } from '../store/queries/cycles.js';
import type { RecorderStats } from '../store/recorder.js';
import type { StorageGuard } from '../store/storage.js';

export interface Metrics {
  registry: Registry;
  /** an ingest stage that counts committed operations */
  stage: IngestStage;
  render(): Promise<{ contentType: string; body: string }>;
  /** extra gauges other stages register (cycles, identities failing, ...) */
  gauge(name: string, help: string, collect: () => number): void;
  /** a counter whose running total another part keeps (read at scrape time); its name ends in `_total` */
  counter(name: string, help: string, collect: () => number): void;
}

export interface MetricsDeps {
  recorderStats: () => RecorderStats;
  /** for the cycle and identity gauges, read from the rollup tables at scrape time */
  db?: Db;
}

type OperationLabels = { resource_type: string; operation: string; status: string };

export function createMetrics({ recorderStats, db }: MetricsDeps): Metrics {
  const registry = new Registry();
  // Prefix `scimtap_` only: prom-client's names already start with `process_` / `nodejs_`.
  collectDefaultMetrics({ register: registry, prefix: 'scimtap_' });
  // prom-client names three gauges `*_total`, which Prometheus reserves for counters. Their values are the sums
  // of the per-type series kept beside them (`sum(scimtap_nodejs_active_handles)`), so drop them.
  for (const name of ['handles', 'requests', 'resources']) {
    registry.removeSingleMetric(`scimtap_nodejs_active_${name}_total`);
  }
  const stage = createOperationsStage(registry);
  const gauge: Metrics['gauge'] = (name, help, collect) => {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(collect());
      },
    });
  };
  // Prometheus naming: `_total` only on counters, and a counter only for what never goes down
  // (`promtool check metrics` enforces the first; rate() relies on the second).
  const counter: Metrics['counter'] = (name, help, collect) => {
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(collect());
      },
    });
  };
  gauge(
    'scimtap_recorder_queue_depth',
    'Exchanges waiting to be written to the database',
    () => recorderStats().queued,
  );
  counter(
    'scimtap_recorder_dropped_total',
    'Exchanges that could not be recorded (queue full or write failure)',
    () => recorderStats().dropped,
  );
  counter(
    'scimtap_recorder_written_total',
    'Exchanges written to the database',
    () => recorderStats().written,
  );
  counter('scimtap_recorder_write_errors_total', 'Failed batch writes', () => recorderStats().writeErrors);
  gauge('scimtap_recorder_failing', '1 while the last database write failed', () =>
    recorderStats().failing ? 1 : 0,
  );

  if (db) {
    // Each is one small indexed count over the rollups, read at scrape time.
    // A gauge, not a counter: retention prunes old cycles, so the count can go down.
    gauge('scimtap_cycles', 'Provisioning cycles stored (incl. Test Connection events)', () =>
      readRollup(() => countCycles(db)),
    );
    gauge('scimtap_cycle_running', '1 while a provisioning cycle is running', () =>
      readRollup(() => Math.min(1, countCycles(db, { running: true }))),
    );
    gauge('scimtap_identities_failing', 'Users and groups whose last cycle ended in failure', () =>
      readRollup(() => countFailingIdentities(db)),
    );
  }

  return {
    registry,
    stage,
    gauge,
    counter,
    render: async () => ({ contentType: registry.contentType, body: await registry.metrics() }),
  };
}

/**
 * scimtap_operations_total and scimtap_upstream_duration_seconds, registered on `registry` (where createMetrics
 * registers them, before its gauges: /metrics lists them in that order), and the ingest stage that counts
 * committed operations into them.
 */
function createOperationsStage(registry: Registry): IngestStage {
  const operations = new Counter({
    name: 'scimtap_operations_total',
    help: 'Recorded SCIM operations by resource type, operation and status',
    labelNames: ['resource_type', 'operation', 'status'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'scimtap_upstream_duration_seconds',
    help: 'Time from request arrival to response end, by resource type and operation',
    labelNames: ['resource_type', 'operation'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
  return {
    afterCommit(ops: StoredOperation[]) {
      // prom-client hashes the labels of every call: the counter is raised once per distinct label set of the
      // batch (a batch is usually one kind of operation), the histogram still observes every duration.
      let counts: Map<string, { labels: OperationLabels; n: number }> | undefined;
      let last: { labels: OperationLabels; n: number } | undefined;
      for (const op of ops) {
        const labels = { resource_type: op.resourceType, operation: op.operation, status: op.status };
        if (
          last &&
          last.labels.resource_type === labels.resource_type &&
          last.labels.operation === labels.operation &&
          last.labels.status === labels.status
        ) {
          last.n++;
        } else {
          counts ??= new Map();
          const key = `${labels.resource_type}\u0000${labels.operation}\u0000${labels.status}`;
          last = counts.get(key);
          if (last) last.n++;
          else {
            last = { labels, n: 1 };
            counts.set(key, last);
          }
        }
        latency.observe({ resource_type: op.resourceType, operation: op.operation }, op.durationMs / 1000);
      }
      if (counts) for (const { labels, n } of counts.values()) operations.inc(labels, n);
    },
  };
}

/** A rollup count for a gauge: 0 while its table does not exist yet (older database, tests). */
function readRollup(read: () => number): number {
  try {
    return read();
  } catch (err) {
    if (/no such (table|column)/.test((err as Error).message)) return 0;
    // One unreadable gauge must not take the whole scrape down.
    return Number.NaN;
  }
}

/** Storage (issue 10 §6): the budget, what is used, what was pruned to stay within it, and the file itself. */
export function registerStorageMetrics(
  metrics: Pick<Metrics, 'gauge' | 'counter'>,
  storage: Pick<StorageGuard, 'stats' | 'fileProblem'>,
  budgetBytes: number,
): void {
  metrics.gauge('scimtap_storage_budget_bytes', 'SCIMTAP_MAX_DB_MB in bytes', () => budgetBytes);
  metrics.gauge('scimtap_storage_bytes', 'Database file plus WAL on disk', () => storage.stats().totalBytes);
  metrics.gauge('scimtap_storage_wal_bytes', 'Size of the WAL file', () => storage.stats().walBytes);
  metrics.gauge(
    'scimtap_storage_free_bytes',
    'Freelist pages in the file, reused before it grows',
    () => storage.stats().freeBytes,
  );
  metrics.counter(
    'scimtap_storage_pruned_bodies_total',
    'Bodies deleted (oldest first) to stay within SCIMTAP_MAX_DB_MB',
    () => storage.stats().bodiesPruned,
  );
  metrics.counter(
    'scimtap_storage_pruned_operations_total',
    'Operations deleted (oldest first) to stay within SCIMTAP_MAX_DB_MB',
    () => storage.stats().operationsPruned,
  );
  metrics.counter(
    'scimtap_storage_wal_truncations_total',
    'Truncating WAL checkpoints run because the WAL passed its limit',
    () => storage.stats().walTruncations,
  );
  metrics.gauge(
    'scimtap_storage_file_lost',
    '1 while the file at SCIMTAP_DB is not the one open (deleted or replaced)',
    () => (storage.fileProblem() ? 1 : 0),
  );
}
