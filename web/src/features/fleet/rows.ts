import { formatCount, formatDuration, formatPercent } from '../../lib/format.js';
import { lookOf } from '../../lib/state.js';
import type { AppCyclePoint, AppLastCycle, AppSummary } from '../../types/api.js';

// The fleet page's words and shapes, pure: each row says what the app's own pages say, in fewer words.

/** `12 of 40 failed · 30%`; a cycle with no call says so, and no cycle yet too. */
export function failureShare(cycle: Pick<AppLastCycle, 'total' | 'failures' | 'failureRate'> | null): string {
  if (!cycle) return 'No cycle yet';
  if (cycle.total === 0) return 'No calls';
  return `${formatCount(cycle.failures)} of ${formatCount(cycle.total)} failed · ${formatPercent(cycle.failureRate)}`;
}

const kindLabel: Record<string, string> = {
  initial: 'Initial',
  incremental: 'Incremental',
  testConnection: 'Test Connection',
  onDemand: 'On-demand',
};

/** `Incremental #12`, with `, running` while it runs. */
export function cycleLabel(cycle: Pick<AppLastCycle, 'id' | 'kind' | 'state'>): string {
  return `${kindLabel[cycle.kind] ?? cycle.kind} #${cycle.id}${cycle.state === 'running' ? ', running' : ''}`;
}

/** `None firing`, `1 firing: <summary>`, `3 firing: <first summary> (+2 more)`. */
export function incidentsText(firing: Pick<AppSummary['firingIncidents'][number], 'summary'>[]): string {
  if (firing.length === 0) return 'None firing';
  const more = firing.length > 1 ? ` (+${firing.length - 1} more)` : '';
  return `${firing.length} firing: ${firing[0].summary}${more}`;
}

/** `in 4m 10s`, `overdue by 3m 05s`, or `unknown` before a first cycle; relative to `now`. */
export function nextCycleText(at: string | null, now: number): string {
  if (!at) return 'unknown';
  const t = Date.parse(at);
  if (Number.isNaN(t)) return 'unknown';
  const left = t - now;
  if (Math.abs(left) < 1000) return 'now';
  return left > 0 ? `in ${formatDuration(left)}` : `overdue by ${formatDuration(-left)}`;
}

/** `1 quarantine suspected · 2 at risk of quarantine · 5 healthy`: the page's one-line answer, worst first. */
export function fleetCounts(apps: Pick<AppSummary, 'state'>[]): string {
  const order = ['quarantineSuspected', 'stalled', 'atRisk', 'degraded', 'healthy', 'idle'];
  const counts = new Map<string, number>();
  for (const a of apps) counts.set(a.state, (counts.get(a.state) ?? 0) + 1);
  const states = [...counts.keys()].sort((a, b) => rank(order, a) - rank(order, b));
  return states.map((s) => `${counts.get(s)} ${lookOf(s).label.toLowerCase()}`).join(' · ');
}

const rank = (order: string[], s: string) => (order.includes(s) ? order.indexOf(s) : order.length);

// ---- the sparkline ----

export interface SparkBar {
  cycleId: number;
  x: number;
  y: number;
  width: number;
  height: number;
  risk: AppCyclePoint['risk'];
  /** the bar's tooltip: `Cycle #12: 3 of 40 failed` */
  title: string;
}

export interface SparkSize {
  width: number;
  height: number;
  /** bar slots: the newest cycle is always in the rightmost, so rows line up whatever their history */
  slots: number;
  gap: number;
  /** the height of a bar with no failure: the cycle still shows, as a tick on the baseline */
  minHeight: number;
}

export const SPARK_SIZE: SparkSize = { width: 120, height: 28, slots: 20, gap: 1, minHeight: 2 };

/**
 * Failures per cycle (oldest first, as /api/apps sends them) as SVG bars: heights scaled to the row's worst
 * cycle, right-aligned in `slots` slots, coloured by the cycle's risk as the cycles page colours its rows.
 */
export function sparklineBars(points: AppCyclePoint[], size: SparkSize = SPARK_SIZE): SparkBar[] {
  const shown = points.slice(-size.slots);
  const slot = size.width / size.slots;
  const barWidth = Math.max(1, slot - size.gap);
  const worst = Math.max(1, ...shown.map((p) => p.failures));
  const offset = size.slots - shown.length;
  return shown.map((p, i) => {
    const scaled = (p.failures / worst) * size.height;
    const height = p.failures > 0 ? Math.max(scaled, size.minHeight + 1) : size.minHeight;
    return {
      cycleId: p.cycleId,
      x: round((offset + i) * slot),
      y: round(size.height - height),
      width: round(barWidth),
      height: round(height),
      risk: p.risk,
      title: `Cycle #${p.cycleId}: ${failureShare({ ...p, failureRate: p.total > 0 ? p.failures / p.total : 0 })}`,
    };
  });
}

/** What the sparkline shows, for screen readers: `Failures in the last 4 cycles, oldest first: 0, 0, 3, 40`. */
export function sparklineLabel(points: AppCyclePoint[], slots = SPARK_SIZE.slots): string {
  const shown = points.slice(-slots);
  if (shown.length === 0) return 'No cycle yet';
  const n = shown.length === 1 ? 'the last cycle' : `the last ${shown.length} cycles, oldest first`;
  return `Failures in ${n}: ${shown.map((p) => formatCount(p.failures)).join(', ')}`;
}

const round = (n: number) => Math.round(n * 100) / 100;
