import { CartesianGrid, Legend, Line, LineChart, Tooltip, XAxis, YAxis } from 'recharts';
import { chartColors } from '../../components/chart-card.js';
import { ChartFrame } from '../../components/chart-frame.js';
import { formatDuration } from '../../lib/format.js';
import { useRecentCycles } from './api.js';
import { toLatency } from './cycle-charts.js';

/** Axis labels keep a decimal below 10 ms so 0.5 and 1 ms ticks do not both read `1 ms`. */
function axisMs(v: number): string {
  return v < 10 ? `${Number(v.toFixed(1))} ms` : formatDuration(v);
}

export function LatencyChart() {
  return (
    <ChartFrame
      title="App latency per cycle (p50 / p95)"
      what="cycles"
      empty="No provisioning cycle yet."
      query={useRecentCycles()}
      draw={(data) => {
        const points = toLatency(data.items);
        if (points.length === 0) return null;
        const last = points.at(-1)!;
        return {
          summary: `Last cycle ${last.label}: p50 ${formatDuration(last.p50)}, p95 ${formatDuration(last.p95)}.`,
          chart: (
            <LineChart responsive style={{ width: '100%', height: 200 }} data={points}>
              <CartesianGrid vertical={false} stroke={chartColors.grid} />
              <XAxis dataKey="label" tick={{ fontSize: 11, fill: chartColors.text }} minTickGap={8} />
              <YAxis width={52} tickFormatter={axisMs} tick={{ fontSize: 11, fill: chartColors.text }} />
              <Tooltip isAnimationActive={false} formatter={(v) => formatDuration(Number(v))} />
              <Legend wrapperStyle={{ fontSize: 12 }} itemSorter="dataKey" />
              <Line
                type="monotone"
                dataKey="p50"
                name="p50"
                stroke={chartColors.accent}
                strokeWidth={2}
                dot={{ r: 2 }}
                connectNulls={false}
                isAnimationActive={false}
              />
              <Line
                type="monotone"
                dataKey="p95"
                name="p95"
                stroke={chartColors.warning}
                strokeWidth={2}
                strokeDasharray="5 3"
                dot={{ r: 2 }}
                connectNulls={false}
                isAnimationActive={false}
              />
            </LineChart>
          ),
        };
      }}
    />
  );
}
