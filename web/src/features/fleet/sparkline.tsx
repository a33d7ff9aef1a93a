import { memo } from 'react';
import type { AppCyclePoint } from '../../types/api.js';
import { SPARK_SIZE, sparklineBars, sparklineLabel } from './rows.js';

/**
 * Failures per cycle as inline SVG: 20 bars at most, no chart library, so 50 rows draw at once. Bars are red,
 * amber or a green tick by the cycle's risk (the cycles page's scale); each has its cycle in a tooltip.
 */
export const Sparkline = memo(function Sparkline({ points }: { points: AppCyclePoint[] }) {
  const { width, height } = SPARK_SIZE;
  const bars = sparklineBars(points);
  return (
    <svg
      className="sparkline"
      role="img"
      aria-label={sparklineLabel(points)}
      width={width}
      height={height}
      viewBox={`0 0 ${width} ${height}`}
    >
      <line className="sparkline-base" x1={0} x2={width} y1={height - 0.5} y2={height - 0.5} />
      {bars.map((b) => (
        <rect
          key={b.cycleId}
          className={`spark-${b.risk}`}
          x={b.x}
          y={b.y}
          width={b.width}
          height={b.height}
          data-cycle-id={b.cycleId}
          data-risk={b.risk}
        >
          <title>{b.title}</title>
        </rect>
      ))}
    </svg>
  );
});
