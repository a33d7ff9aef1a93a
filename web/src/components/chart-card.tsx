import type { ReactNode } from 'react';

/** A chart in a card: a title, the chart, and a text summary that says the same for screen readers. */
export function ChartCard({
  title,
  summary,
  children,
}: {
  title: string;
  summary?: ReactNode;
  children: ReactNode;
}) {
  return (
    <figure className="card chart-card">
      <figcaption>
        <h2>{title}</h2>
        {summary ? <p className="chart-summary">{summary}</p> : null}
      </figcaption>
      <div className="chart-body">{children}</div>
    </figure>
  );
}

// SVG attributes cannot read CSS variables everywhere; these mirror --ok, --warn, --bad, --accent in styles.css.
export const chartColors = {
  success: '#2f9e44',
  warning: '#e8a33d',
  failure: '#d6336c',
  accent: '#3b6fd8',
  accentLight: '#93b4f0',
  grid: '#d9dee7',
  text: '#5b6474',
};
