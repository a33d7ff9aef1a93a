import type { ReactNode } from 'react';
import { ChartCard } from './chart-card.js';
import { Empty, ErrorView, Loading } from './states.js';

/** The part of a react-query result a chart reads; any `useQuery` result fits. */
export interface ChartQuery<T> {
  data: T | undefined;
  error: unknown;
  isPending: boolean;
}

/**
 * The card every overview chart shares: loading, a failed first load and nothing-to-draw states inside the
 * card. A failed refresh keeps the last data drawn (the page shows the stale note once, not per chart).
 * `draw` returns null when the data holds nothing to draw.
 */
export function ChartFrame<T>({
  title,
  what,
  empty,
  query,
  draw,
}: {
  title: string;
  /** What failed to load, for the error text: "Could not load {what}." */
  what: string;
  empty: ReactNode;
  query: ChartQuery<T>;
  draw(data: T): { summary: ReactNode; chart: ReactNode } | null;
}) {
  const { data, error, isPending } = query;
  if (isPending)
    return (
      <ChartCard title={title}>
        <Loading />
      </ChartCard>
    );
  // Not pending and no data: the first load failed (react-query keeps earlier data on a failed refresh).
  if (data === undefined)
    return (
      <ChartCard title={title}>
        <ErrorView error={error} what={what} />
      </ChartCard>
    );
  const drawn = draw(data);
  if (drawn === null)
    return (
      <ChartCard title={title}>
        <Empty>{empty}</Empty>
      </ChartCard>
    );
  return (
    <ChartCard title={title} summary={drawn.summary}>
      {drawn.chart}
    </ChartCard>
  );
}
