import { formatCount, formatDuration } from '../../lib/format.js';
import type { Cycle } from '../../types/api.js';

export interface ProgressView {
  /** 0–100 for the bar; null draws an indeterminate bar */
  percent: number | null;
  /** text inside the bar */
  label: string;
  /** `120 / 220 objects` */
  processedText: string;
  /** `4m 10s left (about 14:32)`, `done`, or why there is no ETA */
  etaText: string;
  elapsedMs: number;
  /** Entra's 0.01–0.08 min per object estimate, when it applies */
  entraText: string | null;
  /** how to get a better estimate, when there is none */
  hint: string | null;
}

/**
 * What the progress bar says about a cycle at `now`. Only initial cycles have a known size (ARCHITECTURE §5);
 * an incremental cycle shows how many objects it touched and a full bar once completed.
 */
export function progressView(
  cycle: Pick<
    Cycle,
    'state' | 'kind' | 'startedAt' | 'endedAt' | 'progress' | 'usersTouched' | 'groupsTouched'
  >,
  now: number,
): ProgressView {
  const running = cycle.state === 'running';
  const start = Date.parse(cycle.startedAt ?? '');
  const end = running ? now : Date.parse(cycle.endedAt ?? '');
  const elapsedMs = Math.max(0, end - start);
  const p = cycle.progress;
  const processed = p?.processed ?? cycle.usersTouched + cycle.groupsTouched;
  const entraText = p
    ? `Entra estimates ${formatDuration(p.entraEstimate.minMinutes * 60_000)}–${formatDuration(p.entraEstimate.maxMinutes * 60_000)} for ${formatCount(p.entraEstimate.units)} users, groups and members`
    : null;

  if (!running) {
    return {
      percent: 100,
      label: 'completed',
      processedText: `${formatCount(processed)}${p?.expected ? ` / ${formatCount(p.expected)}` : ''} objects`,
      etaText: 'done',
      elapsedMs,
      entraText,
      hint: null,
    };
  }
  if (p?.percent != null && p.expected != null) {
    const percent = Math.max(0, Math.min(100, p.percent));
    let etaText = 'estimating…';
    if (p.etaMs != null && p.etaAt) {
      const d = new Date(p.etaAt);
      const hhmm = `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
      // the ETA was computed at the last operation; count it down from there
      const left = Math.max(0, Date.parse(p.etaAt) - now);
      etaText = `${formatDuration(left)} left (about ${hhmm})`;
    } else if (percent >= 100) etaText = 'finishing';
    return {
      percent,
      label: `${percent.toFixed(percent < 10 ? 1 : 0)}%`,
      processedText: `${formatCount(p.processed)} / ${formatCount(p.expected)} objects`,
      etaText,
      elapsedMs,
      entraText,
      hint: null,
    };
  }
  return {
    percent: null,
    label: 'running',
    processedText: `${formatCount(processed)} objects so far`,
    etaText: 'unknown',
    elapsedMs,
    entraText,
    hint:
      cycle.kind === 'initial'
        ? 'The size of a first initial cycle is unknown: set SCIMTAP_EXPECTED_OBJECTS for an exact progress and ETA.'
        : null,
  };
}
