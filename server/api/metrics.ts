import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { IngestStage, StoredOperation } from '../store/ingest.js';
import type { RecorderStats } from '../store/recorder.js';

export interface Metrics {
  registry: Registry;
  /** an ingest stage that counts committed operations */
  stage: IngestStage;
  render(): Promise<{ contentType: string; body: string }>;
  /** extra gauges other stages register (cycles, identities failing, ...) */
  gauge(name: string, help: string, collect: () => number): void;
}

export function createMetrics({ recorderStats }: { recorderStats: () => RecorderStats }): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'scimtap_process_' });
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
  gauge('scimtap_recorder_queue_depth', 'Exchanges waiting to be written to the database', () => recorderStats().queued);
  gauge('scimtap_recorder_dropped_total', 'Exchanges that could not be recorded (queue full or write failure)', () => recorderStats().dropped);
  gauge('scimtap_recorder_written_total', 'Exchanges written to the database', () => recorderStats().written);
  gauge('scimtap_recorder_write_errors_total', 'Failed batch writes', () => recorderStats().writeErrors);
  gauge('scimtap_recorder_failing', '1 while the last database write failed', () => (recorderStats().failing ? 1 : 0));

  const stage: IngestStage = {
    afterCommit(ops: StoredOperation[]) {
      for (const op of ops) {
        operations.inc({ resource_type: op.resourceType, operation: op.operation, status: op.status });
        latency.observe({ resource_type: op.resourceType, operation: op.operation }, op.durationMs / 1000);
      }
    },
  };
  return {
    registry,
    stage,
    gauge,
    render: async () => ({ contentType: registry.contentType, body: await registry.metrics() }),
  };
}
