import { lazy, Suspense } from 'react';
import { ChartCard } from '../../components/chart-card.js';
import { Empty, ErrorView, Loading, StaleNote } from '../../components/states.js';
import { useStatus } from './api.js';
import { CycleCard } from './cycle-card.js';
import { FiringIncidents } from './firing-incidents.js';
import { NextCycle } from './next-cycle.js';
import { StateBanner } from './state-banner.js';

// The charts library is most of the bundle: loading it after the banner and the progress bar keeps the first
// meaningful render fast (bench/dashboard.ts).
const OpsPerMinuteChart = lazy(() =>
  import('./ops-per-minute-chart.js').then((m) => ({ default: m.OpsPerMinuteChart })),
);
const FailureRateChart = lazy(() =>
  import('./failure-rate-chart.js').then((m) => ({ default: m.FailureRateChart })),
);
const LatencyChart = lazy(() => import('./latency-chart.js').then((m) => ({ default: m.LatencyChart })));

function ChartFallback({ title }: { title: string }) {
  return (
    <ChartCard title={title}>
      <Loading label="Loading chart…" />
    </ChartCard>
  );
}

export function OverviewPage() {
  const { data: status, error, isPending } = useStatus();
  return (
    <>
      {isPending ? (
        <Loading label="Loading provisioning status…" />
      ) : error && !status ? (
        <ErrorView error={error} what="the provisioning status" />
      ) : (
        <>
          <StaleNote error={error} />
          <StateBanner state={status.state} reason={status.reason} />
          <div className="grid-2">
            {status.cycle ? (
              <CycleCard cycle={status.cycle} />
            ) : (
              <section className="card">
                <h2>Cycles</h2>
                <Empty>
                  No provisioning cycle seen yet. Point Entra's Tenant URL at scimtap's proxy listener and run
                  Test Connection, or wait for the next cycle.
                </Empty>
              </section>
            )}
            <div className="stack">
              <NextCycle at={status.nextExpectedCycleAt} running={status.running} />
              <FiringIncidents incidents={status.incidents} />
            </div>
          </div>
        </>
      )}
      <div className="grid charts">
        <Suspense fallback={<ChartFallback title="Operations per minute, last hour" />}>
          <OpsPerMinuteChart />
        </Suspense>
        <Suspense fallback={<ChartFallback title="Failure rate per cycle" />}>
          <FailureRateChart />
        </Suspense>
        <Suspense fallback={<ChartFallback title="App latency per cycle (p50 / p95)" />}>
          <LatencyChart />
        </Suspense>
      </div>
    </>
  );
}
