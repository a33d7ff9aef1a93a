import { Empty, ErrorView, Loading, StaleNote } from '../../components/states.js';
import { useStatus } from './api.js';
import { CycleCard } from './cycle-card.js';
import { FailureRateChart } from './failure-rate-chart.js';
import { FiringIncidents } from './firing-incidents.js';
import { LatencyChart } from './latency-chart.js';
import { NextCycle } from './next-cycle.js';
import { OpsPerMinuteChart } from './ops-per-minute-chart.js';
import { StateBanner } from './state-banner.js';

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
        <OpsPerMinuteChart />
        <FailureRateChart />
        <LatencyChart />
      </div>
    </>
  );
}
