import { RiskBadge } from '../../components/risk-badge.js';
import { ErrorView, Loading, StaleNote } from '../../components/states.js';
import { ErrorCode, HttpStatus, StatusBadge } from '../../components/status-badge.js';
import { Time } from '../../components/time.js';
import { formatCount, formatDuration, formatPercent } from '../../lib/format.js';
import { Link } from '../../lib/router.js';
import type { CycleDetail as Cycle } from '../../types/api.js';
import { OperationsTable } from '../operations/operations-table.js';
import { useCycle } from './api.js';
import { CycleOutcomes } from './cycle-outcomes.js';

/** /cycles/:id: one cycle's rollups, its outcomes per operation and error, and its operations. */
export function CyclePage({ params }: { params: Record<string, string> }) {
  const id = Number(params.id);
  const valid = Number.isInteger(id) && id > 0;
  return (
    <>
      <header className="page-header">
        <p className="breadcrumb">
          <Link to="/cycles">Cycles</Link> /
        </p>
        <h1>Cycle #{params.id}</h1>
      </header>
      {valid ? <CycleDetail id={id} /> : <p role="alert">“{params.id}” is not a cycle id.</p>}
    </>
  );
}

function CycleDetail({ id }: { id: number }) {
  const { data: cycle, error, isPending } = useCycle(id);
  if (isPending) return <Loading label="Loading cycle…" />;
  if (error && !cycle) return <ErrorView error={error} what={`cycle ${id}`} />;
  return (
    <>
      <StaleNote error={error} />
      <CycleSummary cycle={cycle} />
      <div className="grid">
        <OperationCounts cycle={cycle} />
        <ErrorCounts cycle={cycle} />
      </div>
      <CycleOutcomes cycleId={cycle.id} />
      <section aria-labelledby="cycle-ops-title">
        <div className="card-header">
          <h2 id="cycle-ops-title">Operations in this cycle</h2>
          <Link to={`/operations?cycle=${id}`}>Open in the operations log (filters, CSV)</Link>
        </div>
        <OperationsTable
          source={{ filters: { cycle: String(id) } }}
          caption={`Operations in cycle ${id}`}
          emptyText="No operations in this cycle."
        />
      </section>
    </>
  );
}

function CycleSummary({ cycle: c }: { cycle: Cycle }) {
  return (
    <section
      className={`card cycle-summary risk-${c.risk}`}
      aria-label="Summary"
      data-cycle-id={c.id}
      data-risk={c.risk}
    >
      <dl className="facts">
        <div>
          <dt>Risk</dt>
          <dd>
            <RiskBadge risk={c.risk} />
          </dd>
        </div>
        <div>
          <dt>Kind</dt>
          <dd>{c.kind}</dd>
        </div>
        <div>
          <dt>State</dt>
          <dd>
            <span className={`badge badge-${c.state}`}>
              <span aria-hidden="true">{c.state === 'running' ? '▶' : '■'}</span> {c.state}
            </span>
          </dd>
        </div>
        <div>
          <dt>Started</dt>
          <dd>
            <Time iso={c.startedAt} />
          </dd>
        </div>
        <div>
          <dt>Last operation</dt>
          <dd>
            <Time iso={c.endedAt} />
          </dd>
        </div>
        <div>
          <dt>Duration</dt>
          <dd>{formatDuration(c.durationMs)}</dd>
        </div>
        <div>
          <dt>Calls</dt>
          <dd>
            {formatCount(c.total)} ({formatCount(c.failures)} failed, {formatPercent(c.failureRate)})
          </dd>
        </div>
        <div>
          <dt>Users / groups / members</dt>
          <dd>
            {formatCount(c.usersTouched)} / {formatCount(c.groupsTouched)} / {formatCount(c.membersTouched)}
          </dd>
        </div>
        <div>
          <dt>Deletes + disables</dt>
          <dd>{formatCount(c.deletes)}</dd>
        </div>
        <div>
          <dt>Throttled (429)</dt>
          <dd>{formatCount(c.throttled)}</dd>
        </div>
        <div>
          <dt>Latency p50 / p95</dt>
          <dd>
            {formatDuration(c.latency.p50Ms)} / {formatDuration(c.latency.p95Ms)}
          </dd>
        </div>
        <ProbeFact probe={c.probe} />
        <ProgressFact progress={c.progress} />
      </dl>
    </section>
  );
}

/** The cycle's Test Connection probe, when it had one. */
function ProbeFact({ probe }: { probe: Cycle['probe'] }) {
  if (!probe) return null;
  return (
    <div>
      <dt>Probe</dt>
      <dd
        data-operation-id={probe.operationId ?? undefined}
        data-http-status={probe.httpStatus ?? undefined}
        data-error-code={probe.errorCode ?? undefined}
      >
        <StatusBadge status={probe.status} /> <HttpStatus status={probe.httpStatus} />{' '}
        <ErrorCode code={probe.errorCode} />
      </dd>
    </div>
  );
}

/** How far a running cycle has got. */
function ProgressFact({ progress }: { progress: Cycle['progress'] }) {
  if (!progress) return null;
  return (
    <div>
      <dt>Progress</dt>
      <dd>
        {formatCount(progress.processed)}
        {progress.expected ? ` / ${formatCount(progress.expected)} (${progress.percent}%)` : ' objects'}
      </dd>
    </div>
  );
}

function OperationCounts({ cycle }: { cycle: Cycle }) {
  const rows = Object.entries(cycle.countsByOperation).sort((a, b) => a[0].localeCompare(b[0]));
  return (
    <section className="card" aria-labelledby="by-op-title">
      <h2 id="by-op-title">Outcomes by operation</h2>
      {rows.length === 0 ? (
        <p className="muted">No operations.</p>
      ) : (
        <table className="table compact">
          <thead>
            <tr>
              <th scope="col">Operation</th>
              <th scope="col" className="num">
                Success
              </th>
              <th scope="col" className="num">
                Warning
              </th>
              <th scope="col" className="num">
                Failure
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map(([op, n]) => (
              <tr key={op} className={n.failure > 0 ? 'row-failure' : undefined}>
                <th scope="row">{op}</th>
                <td className="num">{formatCount(n.success)}</td>
                <td className="num">{formatCount(n.warning)}</td>
                <td className="num">
                  {n.failure > 0 ? (
                    <Link to={`/operations?cycle=${cycle.id}&operation=${op}&status=failure`}>
                      {formatCount(n.failure)}
                    </Link>
                  ) : (
                    '0'
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function ErrorCounts({ cycle }: { cycle: Cycle }) {
  const rows = Object.entries(cycle.countsByErrorCode).sort((a, b) => b[1] - a[1]);
  return (
    <section className="card" aria-labelledby="by-error-title">
      <h2 id="by-error-title">Failures by error</h2>
      {rows.length === 0 ? (
        <p className="muted">
          <span aria-hidden="true">✓</span> No failures in this cycle.
        </p>
      ) : (
        <table className="table compact">
          <thead>
            <tr>
              <th scope="col">Error code</th>
              <th scope="col" className="num">
                Calls
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map(([code, n]) => (
              <tr key={code}>
                <th scope="row">
                  <Link to={`/operations?cycle=${cycle.id}&errorCode=${code}`}>{code}</Link>
                </th>
                <td className="num">{formatCount(n)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
