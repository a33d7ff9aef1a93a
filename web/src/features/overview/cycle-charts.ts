import type { Cycle } from '../../types/api.js';

type CycleInput = Pick<Cycle, 'id' | 'kind' | 'total' | 'failures' | 'failureRate'> & {
  latency: Pick<Cycle['latency'], 'p50Ms' | 'p95Ms'>;
};

export interface FailureRatePoint {
  /** `#12` */
  label: string;
  cycleId: number;
  /** 0–100 */
  failurePercent: number;
  failures: number;
  total: number;
}

export interface LatencyPoint {
  label: string;
  cycleId: number;
  p50: number | null;
  p95: number | null;
}

/**
 * Test Connection events are one probe each: on a per-cycle chart they would show as 0% or 100% spikes that
 * say nothing about provisioning, so they are left out.
 */
const provisioning = (c: CycleInput) => c.kind !== 'testConnection' && c.total > 0;

/** The API lists cycles newest first; charts read left to right, oldest first, the last `limit` cycles. */
function chronological(cycles: CycleInput[], limit: number): CycleInput[] {
  return (
    cycles
      .filter(provisioning)
      // ids follow the order cycles opened in
      .sort((a, b) => a.id - b.id)
      .slice(-limit)
  );
}

export function toFailureRate(cycles: CycleInput[], limit = 20): FailureRatePoint[] {
  return chronological(cycles, limit).map((c) => ({
    label: `#${c.id}`,
    cycleId: c.id,
    failurePercent: Math.round((c.failures / c.total) * 1000) / 10,
    failures: c.failures,
    total: c.total,
  }));
}

export function toLatency(cycles: CycleInput[], limit = 20): LatencyPoint[] {
  return chronological(cycles, limit).map((c) => ({
    label: `#${c.id}`,
    cycleId: c.id,
    p50: c.latency.p50Ms,
    p95: c.latency.p95Ms,
  }));
}
