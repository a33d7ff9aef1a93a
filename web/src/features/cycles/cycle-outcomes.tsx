import { useState } from 'react';
import { DataTable } from '../../components/data-table.js';
import { FilterSelect } from '../../components/filter-select.js';
import { Pager, useCursorStack } from '../../components/pager.js';
import { Empty, ErrorView, Loading } from '../../components/states.js';
import { ErrorReason, HttpStatus, StatusBadge } from '../../components/status-badge.js';
import { Link } from '../../lib/router.js';
import type { CycleOutcome } from '../../types/api.js';
import { useCycleOutcomes } from './api.js';

const outcomes = ['failure', 'success', 'warning'] as const;
const outcomeLabels = { failure: 'failed', success: 'succeeded', warning: 'warned' };

/** One row per user or group the cycle touched, with how it ended there (its last operation in the cycle). */
export function CycleOutcomes({ cycleId }: { cycleId: number }) {
  const [outcome, setOutcome] = useState<string | undefined>();
  const pager = useCursorStack(outcome ?? '');
  const { data, error, isPending, isPlaceholderData } = useCycleOutcomes(cycleId, outcome, pager.cursor);
  return (
    <section className="card" aria-labelledby="outcomes-title">
      <div className="card-header">
        <h2 id="outcomes-title">Per-object outcomes</h2>
        <FilterSelect
          label="Outcome"
          value={outcome}
          options={outcomes}
          labels={outcomeLabels}
          onChange={setOutcome}
        />
      </div>
      {isPending ? (
        <Loading />
      ) : error && !data ? (
        <ErrorView error={error} what="the cycle's outcomes" />
      ) : data.items.length === 0 ? (
        <Empty>
          {outcome
            ? `No object ended with ${outcome} in this cycle.`
            : 'No user or group was touched in this cycle.'}
        </Empty>
      ) : (
        <DataTable caption="Per-object outcomes" placeholder={isPlaceholderData} compact>
          <thead>
            <tr>
              <th scope="col">Object</th>
              <th scope="col">Type</th>
              <th scope="col">Outcome</th>
              <th scope="col">Last operation</th>
              <th scope="col" className="num">
                Calls (failed)
              </th>
              <th scope="col">Error (last failure in the cycle)</th>
            </tr>
          </thead>
          <tbody>
            {data.items.map((o) => (
              <OutcomeRow key={o.identityId} outcome={o} />
            ))}
          </tbody>
        </DataTable>
      )}
      {data ? (
        <Pager label="Outcomes" pager={pager} nextCursor={data.nextCursor} busy={isPlaceholderData} />
      ) : null}
    </section>
  );
}

function OutcomeRow({ outcome: o }: { outcome: CycleOutcome }) {
  return (
    <tr className={o.outcome === 'failure' ? 'row-failure' : undefined}>
      <th scope="row" className="identity-cell">
        <Link to={`/identities/${o.identityId}`}>{o.name ?? o.targetId ?? `#${o.identityId}`}</Link>
      </th>
      <td>{o.type ?? '—'}</td>
      <td>
        <StatusBadge status={o.outcome} />
      </td>
      <td
        className="nowrap"
        data-operation-id={o.lastOperationId}
        data-http-status={o.httpStatus ?? undefined}
      >
        <Link to={`/operations/${o.lastOperationId}`}>
          {o.lastOperation} <HttpStatus status={o.httpStatus} />
        </Link>
      </td>
      <td className="num">
        {o.operations} {o.failures > 0 ? <span className="form-error">({o.failures})</span> : null}
      </td>
      <td className="reason-cell">
        {o.lastFailure ? (
          <ErrorReason
            operationId={o.lastFailure.operationId}
            httpStatus={o.lastFailure.httpStatus}
            errorCode={o.lastFailure.errorCode}
            reason={o.lastFailure.reason}
            past={o.lastFailure.past}
          />
        ) : (
          <span className="muted">—</span>
        )}
      </td>
    </tr>
  );
}
