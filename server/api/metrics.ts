import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { SINGLE_APP_ID } from '../config/apps.js';
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

/**
 * /metrics for the whole process: the process's own series once, and each app's series labelled `app`
 * (issue 14). Prometheus wants every series of a name in one family, so an app does not get a registry of its
 * own: it adds its readings to the shared families (`forApp`).
 */
export interface MetricsRegistry {
  registry: Registry;
  render(): Promise<{ contentType: string; body: string }>;
  /** one app's view: what it registers is labelled with its id */
  forApp(app: string, deps: MetricsDeps): Metrics;
  /** a process-wide counter (no app label), e.g. requests that named no app */
  counter(name: string, help: string, collect: () => number): void;
  /**
   * An app stopped (a reload removed or replaced it): none of its series is on /metrics any more. Its gauges and
   * counters read at scrape time are no longer read (they would read a closed database), its operations series
   * go, and its stage counts nothing more (what its recorder flushes while closing). A replaced app's next view
   * (`forApp` again) counts from zero.
   */
  removeApp(app: string): void;
}

type OperationLabels = { app: string; resource_type: string; operation: string; status: string };

/**
 * `replica`: on a PostgreSQL store, this process's name (SCIMTAP_REPLICA): every series carries it, so that the
 * replicas behind one load balancer, scraped one by one, stay apart.
 */
export function createMetricsRegistry({ replica }: { replica?: string } = {}): MetricsRegistry {
  const registry = new Registry();
  if (replica !== undefined) registry.setDefaultLabels({ replica });
  // Prefix `scimtap_` only: prom-client's names already start with `process_` / `nodejs_`.
  collectDefaultMetrics({ register: registry, prefix: 'scimtap_' });
  // prom-client names three gauges `*_total`, which Prometheus reserves for counters. Their values are the sums
  // of the per-type series kept beside them (`sum(scimtap_nodejs_active_handles)`), so drop them.
  for (const name of ['handles', 'requests', 'resources']) {
    registry.removeSingleMetric(`scimtap_nodejs_active_${name}_total`);
  }
  const operations = createOperationsFamilies(registry);
  const families = createAppFamilies(registry);
  const render = async () => ({ contentType: registry.contentType, body: await registry.metrics() });
  /** each running app's operations stage, to stop and clear when the app stops */
  const stages = new Map<string, ReturnType<typeof operationsStage>>();
  return {
    registry,
    render,
    forApp(app, deps) {
      const stage = operationsStage(operations, app);
      stages.set(app, stage);
      const metrics: Metrics = {
        registry,
        stage,
        render,
        gauge: (name, help, collect) => families.add('gauge', name, help, app, collect),
        counter: (name, help, collect) => families.add('counter', name, help, app, collect),
      };
      registerAppMetrics(metrics, deps);
      return metrics;
    },
    counter: (name, help, collect) => processCounter(registry, name, help, collect),
    removeApp(app) {
      families.remove(app);
      stages.get(app)?.stop();
      stages.delete(app);
    },
  };
}

/** One app's metrics in a registry of their own: a process with one app, and tests. */
export function createMetrics(deps: MetricsDeps, app = SINGLE_APP_ID): Metrics {
  return createMetricsRegistry().forApp(app, deps);
}

// Prometheus naming: `_total` only on counters, and a counter only for what never goes down (`promtool check
// metrics` enforces the first; rate() relies on the second).
function processCounter(registry: Registry, name: string, help: string, collect: () => number): void {
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(collect());
    },
  });
}

/**
 * Gauges and counters read at scrape time, one family per name with a series per app: each app adds its own
 * reading function under its label.
 */
function createAppFamilies(registry: Registry) {
  const families = new Map<string, Map<string, () => number>>();
  return {
    add(kind: 'gauge' | 'counter', name: string, help: string, app: string, collect: () => number) {
      let readers = families.get(name);
      if (!readers) {
        const byApp = new Map<string, () => number>();
        readers = byApp;
        families.set(name, byApp);
        const labelNames = ['app'] as const;
        if (kind === 'gauge') {
          new Gauge({
            name,
            help,
            labelNames,
            registers: [registry],
            collect() {
              this.reset();
              for (const [label, read] of byApp) this.set({ app: label }, read());
            },
          });
        } else {
          new Counter({
            name,
            help,
            labelNames,
            registers: [registry],
            collect() {
              this.reset();
              for (const [label, read] of byApp) this.inc({ app: label }, read());
            },
          });
        }
      }
      readers.set(app, collect);
    },
    remove(app: string) {
      for (const readers of families.values()) readers.delete(app);
    },
  };
}

function registerAppMetrics(metrics: Metrics, { recorderStats, db }: MetricsDeps): void {
  const { gauge, counter } = metrics;
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
  if (!db) return;
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

/**
 * scimtap_operations_total and scimtap_upstream_duration_seconds, registered on `registry` (before the gauges:
 * /metrics lists them in that order).
 */
function createOperationsFamilies(registry: Registry) {
  const operations = new Counter({
    name: 'scimtap_operations_total',
    help: 'Recorded SCIM operations by resource type, operation and status',
    labelNames: ['app', 'resource_type', 'operation', 'status'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'scimtap_upstream_duration_seconds',
    help: 'Time from request arrival to response end, by resource type and operation',
    labelNames: ['app', 'resource_type', 'operation'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
  return { operations, latency };
}

/**
 * The ingest stage that counts one app's committed operations into the operations families. `stop` removes the
 * series it created: prom-client removes a series only by its every label value, so the stage keeps the label
 * sets it counted (a few dozen: resource types × operations × statuses).
 */
function operationsStage(
  { operations, latency }: ReturnType<typeof createOperationsFamilies>,
  app: string,
): IngestStage & { stop(): void } {
  const counted = new Map<string, OperationLabels>();
  let stopped = false;
  return {
    stop() {
      stopped = true;
      for (const labels of counted.values()) {
        operations.remove(labels);
        latency.remove({ app, resource_type: labels.resource_type, operation: labels.operation });
      }
      counted.clear();
    },
    afterCommit(ops: StoredOperation[]) {
      if (stopped) return;
      // prom-client hashes the labels of every call: the counter is raised once per distinct label set of the
      // batch (a batch is usually one kind of operation), the histogram still observes every duration.
      let counts: Map<string, { labels: OperationLabels; n: number }> | undefined;
      let last: { labels: OperationLabels; n: number } | undefined;
      for (const op of ops) {
        if (
          last &&
          last.labels.resource_type === op.resourceType &&
          last.labels.operation === op.operation &&
          last.labels.status === op.status
        ) {
          last.n++;
        } else {
          counts ??= new Map();
          const key = `${op.resourceType}\u0000${op.operation}\u0000${op.status}`;
          last = counts.get(key);
          if (last) last.n++;
          else {
            last = {
              labels: { app, resource_type: op.resourceType, operation: op.operation, status: op.status },
              n: 1,
            };
            counts.set(key, last);
          }
        }
        latency.observe(
          { app, resource_type: op.resourceType, operation: op.operation },
          op.durationMs / 1000,
        );
      }
      if (!counts) return;
      for (const [key, { labels, n }] of counts) {
        operations.inc(labels, n);
        if (!counted.has(key)) counted.set(key, labels);
      }
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
