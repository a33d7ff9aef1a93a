import { DataTable } from '../../components/data-table.js';
import { FilterSelect } from '../../components/filter-select.js';
import { Pager, useCursorStack } from '../../components/pager.js';
import { RiskBadge, RiskLegend } from '../../components/risk-badge.js';
import { Empty, ErrorView, Loading, StaleNote } from '../../components/states.js';
import { ErrorCode, HttpStatus, StatusBadge } from '../../components/status-badge.js';
import { Time } from '../../components/time.js';
import { formatCount, formatDuration, formatPercent } from '../../lib/format.js';
import { riskRowClass } from '../../lib/risk.js';
import { Link, useSearchParams } from '../../lib/router.js';
import type { Cycle } from '../../types/api.js';
import { useCycles } from './api.js';

const kinds = ['initial', 'incremental', 'testConnection', 'onDemand'] as const;

export function CyclesPage() {
  const [search, setSearch] = useSearchParams();
  const kind = kinds.find((k) => k === search.kind);
  const pager = useCursorStack(kind ?? '');
  const { data, error, isPending, isPlaceholderData } = useCycles(pager.cursor, kind);
  return (
    <>
      <header className="page-header">
        <h1>Cycles</h1>
        <p className="muted">
          Provisioning cycles inferred from the traffic: opened by Entra's probe or by traffic after a
          silence, newest first.
        </p>
      </header>
      <form className="filters card" aria-label="Filter cycles" onSubmit={(e) => e.preventDefault()}>
        <FilterSelect label="Kind" value={kind} options={kinds} onChange={(k) => setSearch({ kind: k })} />
      </form>
      {isPending ? (
        <Loading label="Loading cycles…" />
      ) : error && !data ? (
        <ErrorView error={error} what="cycles" />
      ) : (
        <>
          <StaleNote error={error} />
          {data.items.length === 0 ? (
            <Empty>{kind ? `No ${kind} cycle yet.` : 'No cycle seen yet.'}</Empty>
          ) : (
            <>
              <CyclesTable cycles={data.items} placeholder={isPlaceholderData} />
              <RiskLegend />
            </>
          )}
          <Pager label="Cycles" pager={pager} nextCursor={data.nextCursor} busy={isPlaceholderData} />
        </>
      )}
    </>
  );
}

function CyclesTable({ cycles, placeholder }: { cycles: Cycle[]; placeholder: boolean }) {
  return (
    <DataTable caption="Cycles, newest first" placeholder={placeholder}>
      <thead>
        <tr>
          <th scope="col">Cycle</th>
          <th scope="col">Kind</th>
          <th scope="col">State</th>
          <th scope="col">Started</th>
          <th scope="col" className="num">
            Duration
          </th>
          <th scope="col" className="num">
            Calls
          </th>
          <th scope="col" className="num">
            Failed
          </th>
          <th scope="col" className="num">
            Users
          </th>
          <th scope="col" className="num">
            Groups
          </th>
          <th scope="col" className="num">
            p50 / p95
          </th>
          <th scope="col">Probe</th>
          <th scope="col">Risk</th>
        </tr>
      </thead>
      <tbody>
        {cycles.map((c) => (
          <CycleRow key={c.id} cycle={c} />
        ))}
      </tbody>
    </DataTable>
  );
}

function CycleRow({ cycle: c }: { cycle: Cycle }) {
  return (
    <tr className={riskRowClass(c.risk)} data-cycle-id={c.id} data-risk={c.risk}>
      <th scope="row">
        <Link to={`/cycles/${c.id}`}>#{c.id}</Link>
      </th>
      <td>{c.kind}</td>
      <td>
        <span className={`badge badge-${c.state}`}>
          <span aria-hidden="true">{c.state === 'running' ? '▶' : '■'}</span> {c.state}
        </span>
      </td>
      <td className="nowrap">
        <Time iso={c.startedAt} />
      </td>
      <td className="num nowrap">{formatDuration(c.durationMs)}</td>
      <td className="num">{formatCount(c.total)}</td>
      <td className="num">
        {c.failures > 0 ? (
          <Link to={`/operations?cycle=${c.id}&status=failure`}>
            {formatCount(c.failures)} ({formatPercent(c.failureRate)})
          </Link>
        ) : (
          <span className="muted">0</span>
        )}
      </td>
      <td className="num">{formatCount(c.usersTouched)}</td>
      <td className="num">{formatCount(c.groupsTouched)}</td>
      <td className="num nowrap">
        {formatDuration(c.latency.p50Ms)} / {formatDuration(c.latency.p95Ms)}
      </td>
      <td className="nowrap">
        {c.probe ? (
          <span
            data-operation-id={c.probe.operationId ?? undefined}
            data-http-status={c.probe.httpStatus ?? undefined}
            data-error-code={c.probe.errorCode ?? undefined}
          >
            <StatusBadge status={c.probe.status} /> <HttpStatus status={c.probe.httpStatus} />{' '}
            <ErrorCode code={c.probe.errorCode} />
          </span>
        ) : (
          <span className="muted">none</span>
        )}
      </td>
      <td>
        <RiskBadge risk={c.risk} />
      </td>
    </tr>
  );
}
