import { DataTable } from '../../components/data-table.js';
import { RiskBadge } from '../../components/risk-badge.js';
import { Empty, ErrorView, Loading, StaleNote } from '../../components/states.js';
import { SeverityBadge, StateBadge } from '../../components/status-badge.js';
import { RelativeTime } from '../../components/time.js';
import { Link } from '../../lib/router.js';
import { useNow } from '../../lib/use-now.js';
import type { AppSummary } from '../../types/api.js';
import { useApps } from './api.js';
import { cycleLabel, failureShare, fleetCounts, incidentsText, nextCycleText } from './rows.js';
import { Sparkline } from './sparkline.js';

/**
 * The first page when scimtap serves several apps (issue 14): which app is about to be quarantined? One row per
 * app, riskiest first as the server sorts them, all from the one /api/apps answer. A row opens the app's pages.
 */
export function FleetPage() {
  const { data, error, isPending, isPlaceholderData } = useApps({ live: true });
  const now = useNow(1000);
  return (
    <>
      <header className="page-header">
        <h1>Apps</h1>
        <p className="muted">
          Every app scimtap provisions to, riskiest first. Open an app for its cycles, users and groups,
          operations and incidents.
        </p>
      </header>
      {isPending ? (
        <Loading label="Loading apps…" />
      ) : error && !data ? (
        <ErrorView error={error} what="the apps" />
      ) : (
        <>
          <StaleNote error={error} />
          {!data || data.apps.length === 0 ? (
            <Empty>No app is configured. Add apps to the `apps` list of SCIMTAP_CONFIG.</Empty>
          ) : (
            <>
              <p className="fleet-counts" data-testid="fleet-counts">
                <strong>{data.apps.length} apps</strong>: {fleetCounts(data.apps)}
              </p>
              <FleetTable apps={data.apps} now={now} placeholder={isPlaceholderData} />
            </>
          )}
        </>
      )}
    </>
  );
}

function FleetTable({ apps, now, placeholder }: { apps: AppSummary[]; now: number; placeholder: boolean }) {
  return (
    <DataTable caption="Apps, riskiest first" placeholder={placeholder} className="fleet-table">
      <thead>
        <tr>
          <th scope="col">App</th>
          <th scope="col">State</th>
          <th scope="col">Last cycle</th>
          <th scope="col">Next expected cycle</th>
          <th scope="col">Firing incidents</th>
          <th scope="col">Failures per cycle</th>
        </tr>
      </thead>
      <tbody>
        {apps.map((a) => (
          <FleetRow key={a.id} app={a} now={now} />
        ))}
      </tbody>
    </DataTable>
  );
}

/** One app. The name is the row's link, stretched over the whole row (CSS), so the row opens the app. */
function FleetRow({ app: a, now }: { app: AppSummary; now: number }) {
  const c = a.lastCycle;
  const next = nextCycleText(a.nextExpectedCycleAt, now);
  const first = a.firingIncidents[0];
  return (
    <tr className={`fleet-row fleet-state-${a.state}`} data-app-id={a.id} data-state={a.state}>
      <th scope="row">
        <Link to="/" app={a.id} className="row-link">
          {a.name}
        </Link>
        <div className="muted small mono">{a.tenantPath}</div>
      </th>
      <td>
        <StateBadge state={a.state} />
        <div className="muted small fleet-reason">{a.reason}</div>
      </td>
      <td data-testid="last-cycle">
        {c ? (
          <>
            <div className="nowrap">
              {cycleLabel(c)} <RiskBadge risk={c.risk} />
            </div>
            <div className="nowrap">{failureShare(c)}</div>
          </>
        ) : (
          <span className="muted">{failureShare(null)}</span>
        )}
      </td>
      <td className="nowrap" data-testid="next-cycle">
        {a.nextExpectedCycleAt ? (
          <>
            {next.startsWith('overdue') ? <span aria-hidden="true">⚠ </span> : null}
            <RelativeTime iso={a.nextExpectedCycleAt} now={now} text={next} />
          </>
        ) : (
          <span className="muted">{next}</span>
        )}
      </td>
      <td data-testid="firing-incidents">
        {first ? (
          <>
            <SeverityBadge severity={first.severity} />{' '}
            <span className="fleet-incidents">{incidentsText(a.firingIncidents)}</span>
          </>
        ) : (
          <span className="muted">{incidentsText([])}</span>
        )}
      </td>
      <td>
        <Sparkline points={a.failuresPerCycle} />
      </td>
    </tr>
  );
}
