import { Bar, BarChart, CartesianGrid, Legend, Tooltip, XAxis, YAxis } from 'recharts';
import { chartColors } from '../../components/chart-card.js';
import { ChartFrame } from '../../components/chart-frame.js';
import { formatClock, formatCount } from '../../lib/format.js';
import { useOperationsTimeseries } from './api.js';
import { toOpsPerBucket, totals } from './ops-per-minute.js';

// The legend reads in the order the bars stack, bottom up.
const stackOrder = ['success', 'warning', 'failure'];

export function OpsPerMinuteChart() {
  return (
    <ChartFrame
      title="Operations per minute, last hour"
      what="the operations timeline"
      empty="No operations in the last hour."
      query={useOperationsTimeseries()}
      draw={(data) => {
        const points = toOpsPerBucket(data);
        const t = totals(points);
        if (t.total === 0) return null;
        return {
          summary: `${formatCount(t.total)} operations: ${formatCount(t.success)} success, ${formatCount(t.warning)} warning, ${formatCount(t.failure)} failure.`,
          chart: (
            <BarChart responsive style={{ width: '100%', height: 200 }} data={points} barCategoryGap={1}>
              <CartesianGrid vertical={false} stroke={chartColors.grid} />
              <XAxis
                dataKey="time"
                tickFormatter={formatClock}
                minTickGap={40}
                tick={{ fontSize: 11, fill: chartColors.text }}
              />
              <YAxis allowDecimals={false} width={40} tick={{ fontSize: 11, fill: chartColors.text }} />
              <Tooltip labelFormatter={(v) => formatClock(Number(v))} isAnimationActive={false} />
              <Legend
                iconType="square"
                wrapperStyle={{ fontSize: 12 }}
                itemSorter={(item) => stackOrder.indexOf(String(item.value))}
              />
              <Bar
                dataKey="success"
                name="success"
                stackId="s"
                fill={chartColors.success}
                isAnimationActive={false}
              />
              <Bar
                dataKey="warning"
                name="warning"
                stackId="s"
                fill={chartColors.warning}
                isAnimationActive={false}
              />
              <Bar
                dataKey="failure"
                name="failure"
                stackId="s"
                fill={chartColors.failure}
                isAnimationActive={false}
              />
            </BarChart>
          ),
        };
      }}
    />
  );
}
