import { OpsPerMinuteChart } from './ops-per-minute-chart.js';

export function OverviewPage() {
  return (
    <>
      <h1 className="sr-only">Overview</h1>
      <div className="grid">
        <OpsPerMinuteChart />
      </div>
    </>
  );
}
