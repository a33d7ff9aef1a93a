import { Bar, BarChart, CartesianGrid, ReferenceLine, Tooltip, XAxis, YAxis } from 'recharts';
import { ChartCard, chartColors } from '../../components/chart-card.js';
import { Empty, ErrorView, Loading } from '../../components/states.js';
import { useRecentCycles } from './api.js';
import { toFailureRate } from './cycle-charts.js';

/** Entra's escrow-proportion rule: more than 40% of a cycle failing quarantines the job (ARCHITECTURE §6). */
const ESCROW_SHARE_PERCENT = 40;

export function FailureRateChart() {
  const { data, error, isPending } = useRecentCycles();
  const title = 'Failure rate per cycle';
  if (isPending)
    return (
      <ChartCard title={title}>
        <Loading />
      </ChartCard>
    );
  if (error && !data)
    return (
      <ChartCard title={title}>
        <ErrorView error={error} what="cycles" />
      </ChartCard>
    );
  const points = toFailureRate(data.items);
  if (points.length === 0)
    return (
      <ChartCard title={title}>
        <Empty>No provisioning cycle yet.</Empty>
      </ChartCard>
    );
  const last = points.at(-1)!;
  const worst = points.reduce((a, b) => (b.failurePercent > a.failurePercent ? b : a));
  return (
    <ChartCard
      title={title}
      summary={`Last cycle ${last.label}: ${last.failurePercent}% failed (${last.failures} of ${last.total}). Worst of the last ${points.length}: ${worst.label} at ${worst.failurePercent}%. Dashed line: Entra's 40% escrow threshold.`}
    >
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
        <Bar dataKey="failurePercent" name="failed" fill={chartColors.failure} isAnimationActive={false} />
      </BarChart>
    </ChartCard>
  );
}
