import { Fragment, useState } from 'react';
import { DataTable } from '../../components/data-table.js';
import { Pager, useCursorStack } from '../../components/pager.js';
import { Empty, ErrorView, Loading, StaleNote } from '../../components/states.js';
import { ErrorCode, HttpStatus, StatusBadge } from '../../components/status-badge.js';
import { Time } from '../../components/time.js';
import { formatDuration } from '../../lib/format.js';
import { Link } from '../../lib/router.js';
import { type Operation, type OperationSource, PAGE_SIZE, sourceKey, useOperationPage } from './api.js';
import { OperationDetail } from './operation-detail.js';

/**
 * A page of operations from `source` (filters, or an identity's timeline), newest first, with cursor paging and a row detail that opens in
 * place. Used by the operations log, a cycle's page and an identity's timeline.
 */
export function OperationsTable({
  source,
  caption,
  emptyText,
  pageSize = PAGE_SIZE,
  showIdentity = true,
  expandFirstFailure = false,
}: {
  source: OperationSource;
  caption: string;
  emptyText: string;
  pageSize?: number;
  showIdentity?: boolean;
  expandFirstFailure?: boolean;
}) {
  const pager = useCursorStack(sourceKey(source));
  const { data, error, isPending, isPlaceholderData, isFetching } = useOperationPage(
    source,
    pager.cursor,
    pageSize,
  );
  const [open, setOpen] = useState<Set<number>>(new Set());
  const [autoOpened, setAutoOpened] = useState<number | null>(null);

  if (isPending) return <Loading label="Loading operations…" />;
  if (error && !data) return <ErrorView error={error} what="operations" />;

  const items = data.items;
  // An identity's timeline opens its latest failure: that is what the engineer came for.
  const firstFailure =
    expandFirstFailure && pager.page === 1 ? items.find((o) => o.status === 'failure') : undefined;
  if (firstFailure && autoOpened === null) {
    setAutoOpened(firstFailure.id);
    setOpen(new Set([firstFailure.id]));
  }
  const toggle = (id: number) =>
    setOpen((prev) => {
      const next = new Set(prev);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });
  const columns = showIdentity ? 8 : 7;

  return (
    <div className="table-block" aria-busy={isFetching}>
      <StaleNote error={error} />
      {items.length === 0 ? (
        <Empty>{pager.page > 1 ? 'No more operations.' : emptyText}</Empty>
      ) : (
        <DataTable caption={caption} placeholder={isPlaceholderData}>
          <thead>
            <tr>
              <th scope="col" title="activityDateTime in the API and the CSV">
                Time
              </th>
              <th scope="col">Status</th>
              <th scope="col">Operation</th>
              {showIdentity ? <th scope="col">Identity</th> : null}
              <th scope="col" className="num">
                HTTP
              </th>
              <th scope="col" className="num" title="durationInMilliseconds in the API and the CSV">
                Duration
              </th>
              <th scope="col">Error</th>
              <th scope="col">Request</th>
            </tr>
          </thead>
          <tbody>
            {items.map((op) => (
              <Fragment key={op.id}>
                <OperationRow
                  op={op}
                  open={open.has(op.id)}
                  onToggle={() => toggle(op.id)}
                  showIdentity={showIdentity}
                />
                {open.has(op.id) ? (
                  <tr className="detail-row">
                    <td colSpan={columns} id={`op-${op.id}-detail`}>
                      <OperationDetail id={op.id} />
                    </td>
                  </tr>
                ) : null}
              </Fragment>
            ))}
          </tbody>
        </DataTable>
      )}
      <Pager label={caption} pager={pager} nextCursor={data.nextCursor} busy={isPlaceholderData} />
    </div>
  );
}

function OperationRow({
  op,
  open,
  onToggle,
  showIdentity,
}: {
  op: Operation;
  open: boolean;
  onToggle(): void;
  showIdentity: boolean;
}) {
  return (
    <tr
      className={`row-${op.status}${open ? ' is-open' : ''}`}
      data-operation-id={op.id}
      data-http-status={op.httpStatus ?? undefined}
      data-error-code={op.errorCode ?? undefined}
    >
      <td className="nowrap">
        <button
          type="button"
          className="disclosure"
          aria-expanded={open}
          aria-controls={open ? `op-${op.id}-detail` : undefined}
          onClick={onToggle}
          title="Show request, response and explanation"
        >
          <span aria-hidden="true">{open ? '▾' : '▸'}</span> <Time iso={op.activityDateTime} />
        </button>
      </td>
      <td>
        <StatusBadge status={op.status} />
      </td>
      <td>
        {op.operation}
        <span className="muted"> {op.resourceType !== 'User' ? op.resourceType : ''}</span>
      </td>
      {showIdentity ? (
        <td className="identity-cell">
          <IdentityName op={op} />
        </td>
      ) : null}
      <td className="num">
        <HttpStatus status={op.httpStatus} />
      </td>
      <td className="num nowrap">{formatDuration(op.durationInMilliseconds)}</td>
      <td>{op.errorCode ? <ErrorCode code={op.errorCode} /> : <span className="muted">—</span>}</td>
      <td className="mono path-cell" title={op.reason ?? undefined}>
        {op.httpMethod} {op.path}
      </td>
    </tr>
  );
}

/** userName / displayName when the request carried it, else the id in the app (a PATCH by id), linked when known. */
function IdentityName({ op }: { op: Operation }) {
  const name = op.identity ?? op.targetId;
  if (name === null) return <span className="muted">—</span>;
  const text = op.identity === null ? <span className="mono">{name}</span> : name;
  return op.identityId ? <Link to={`/identities/${op.identityId}`}>{text}</Link> : text;
}
