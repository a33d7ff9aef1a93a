import { Bar, BarChart, CartesianGrid, Cell, ReferenceLine, Tooltip, XAxis, YAxis } from 'recharts';
import { chartColors } from '../../components/chart-card.js';
import { ChartFrame } from '../../components/chart-frame.js';
import { useRecentCycles } from './api.js';
import { toFailureRate } from './cycle-charts.js';

/** The cycle list's scale: red toward quarantine, amber for failures (a clean bar is 0% high anyway). */
const riskFill = {
  quarantine: chartColors.failure,
  failures: chartColors.warning,
  clean: chartColors.success,
} as const;

/** Entra's escrow-proportion rule: more than 40% of a cycle failing quarantines the job (ARCHITECTURE §6). */
const ESCROW_SHARE_PERCENT = 40;

export function FailureRateChart() {
  return (
    <ChartFrame
      title="Failure rate per cycle"
      what="cycles"
      empty="No provisioning cycle yet."
      query={useRecentCycles()}
      draw={(data) => {
        const points = toFailureRate(data.items);
        if (points.length === 0) return null;
        const last = points.at(-1)!;
        const worst = points.reduce((a, b) => (b.failurePercent > a.failurePercent ? b : a));
        return {
          summary: `Last cycle ${last.label}: ${last.failurePercent}% failed (${last.failures} of ${last.total}). Worst of the last ${points.length}: ${worst.label} at ${worst.failurePercent}%. Red bars: cycles Entra would count toward quarantine; amber: some failures. Dashed line: Entra's 40% escrow threshold.`,
          chart: (
            <BarChart responsive style={{ width: '100%', height: 200 }} data={points}>
              <CartesianGrid vertical={false} stroke={chartColors.grid} />
              <XAxis dataKey="label" tick={{ fontSize: 11, fill: chartColors.text }} minTickGap={8} />
              <YAxis unit="%" domain={[0, 100]} width={44} tick={{ fontSize: 11, fill: chartColors.text }} />
              <Tooltip
                isAnimationActive={false}
                formatter={(value, _name, item) => [
                  `${value}% (${item.payload.failures} of ${item.payload.total})`,
                  'failed',
                ]}
              />
              <ReferenceLine y={ESCROW_SHARE_PERCENT} stroke={chartColors.failure} strokeDasharray="4 3" />
              <Bar dataKey="failurePercent" name="failed" isAnimationActive={false}>
                {points.map((p) => (
                  <Cell
                    key={p.cycleId}
                    fill={riskFill[p.risk]}
                    data-cycle-id={p.cycleId}
                    data-risk={p.risk}
                  />
                ))}
              </Bar>
            </BarChart>
          ),
        };
      }}
    />
  );
}
