// Progress of an initial cycle (ARCHITECTURE §5). Entra does not announce how many objects are in scope, so
// "expected" is SCIMTAP_EXPECTED_OBJECTS, else what the previous initial cycle touched, else unknown.

/** Entra's own estimate of an initial cycle: 0.01–0.08 minutes per user, group and member in scope. */
export const entraMinutesPerObject = { min: 0.01, max: 0.08 } as const;

export interface ProgressInput {
  kind: string;
  state: string;
  startedAt: number;
  /** time of the last operation */
  endedAt: number;
  processedObjects: number;
  expectedObjects: number | null;
  membersTouched: number;
}

export interface CycleProgress {
  processed: number;
  expected: number | null;
  /** 0–100, null when the expected count is unknown */
  percent: number | null;
  /** objects per minute so far */
  ratePerMinute: number | null;
  /** remaining time at the current rate; null when complete, unknown or not running */
  etaMs: number | null;
  etaAt: number | null;
  /** Entra's estimate for the whole cycle, for comparison */
  entraEstimate: { units: number; minMinutes: number; maxMinutes: number };
}

export function cycleProgress(c: ProgressInput): CycleProgress | null {
  if (c.kind !== 'initial') return null;
  const processed = c.processedObjects;
  const expected = c.expectedObjects;
  const elapsedMs = Math.max(0, c.endedAt - c.startedAt);
  const ratePerMinute = elapsedMs > 0 && processed > 0 ? (processed / elapsedMs) * 60_000 : null;
  const percent = expected ? Math.min(100, Math.round((processed / expected) * 1000) / 10) : null;
  let etaMs: number | null = null;
  if (c.state === 'running' && expected !== null && ratePerMinute !== null) {
    etaMs = Math.round((Math.max(0, expected - processed) / ratePerMinute) * 60_000);
  }
  const units = (expected ?? processed) + c.membersTouched;
  return {
    processed,
    expected,
    percent,
    ratePerMinute: ratePerMinute === null ? null : Math.round(ratePerMinute * 10) / 10,
    etaMs,
    etaAt: etaMs === null ? null : c.endedAt + etaMs,
    entraEstimate: {
      units,
      minMinutes: Math.round(units * entraMinutesPerObject.min * 100) / 100,
      maxMinutes: Math.round(units * entraMinutesPerObject.max * 100) / 100,
    },
  };
}
