import type { Cycle } from '../../types/api.js';

type CycleInput = Pick<Cycle, 'id' | 'kind' | 'total' | 'failures' | 'failureRate' | 'risk'> & {
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
  /** the bar's colour: the same scale as the cycle list's row edges */
  risk: Cycle['risk'];
}

export interface LatencyPoint {
  label: string;
  cycleId: number;
  p50: number | null;
  p95: number | null;
}

/**
 * Test Connection events are one probe each: on a per-cycle chart they would show as 0% or 100% spikes that
 * say nothing about provisioning, so they are left out, unless the probe failed: that is a cycle Entra skipped
 * and counts toward quarantine, which the chart must show.
 */
const provisioning = (c: CycleInput) =>
  c.total > 0 && (c.kind !== 'testConnection' || c.risk === 'quarantine');

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
    risk: c.risk,
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
