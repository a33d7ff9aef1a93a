import { DataTable } from '../../components/data-table.js';
import { FilterSelect } from '../../components/filter-select.js';
import { Pager, useCursorStack } from '../../components/pager.js';
import { SearchField } from '../../components/search-field.js';
import { Empty, ErrorView, Loading, StaleNote } from '../../components/states.js';
import { ErrorReason, HttpStatus, StatusBadge } from '../../components/status-badge.js';
import { Time } from '../../components/time.js';
import { Link, useSearchParams } from '../../lib/router.js';
import type { Identity } from '../../types/api.js';
import { type IdentityFilters, identityFilterKey, useIdentities } from './api.js';

const types = ['User', 'Group'] as const;
// In the order the Status drop-down lists them.
const statuses = ['failing', 'failure', 'success', 'warning'] as const;
const typeLabels = { User: 'users', Group: 'groups' };
const statusLabels = {
  failing: 'failing (streak ≥ 1)',
  failure: 'last call failed',
  success: 'last call succeeded',
  warning: 'last call warned',
};

export function filtersFromSearch(search: Record<string, string>): IdentityFilters {
  return {
    q: search.q?.trim() ? search.q.trim().slice(0, 200) : undefined,
    type: types.find((t) => t === search.type),
    status: statuses.find((s) => s === search.status),
  };
}

export function IdentitiesPage() {
  const [search, setSearch] = useSearchParams();
  const filters = filtersFromSearch(search);
  const pager = useCursorStack(identityFilterKey(filters));
  const { data, error, isPending, isPlaceholderData, isFetching } = useIdentities(filters, pager.cursor);
  const update = (patch: Partial<IdentityFilters>) => setSearch({ ...filters, ...patch });
  const anyFilter = Boolean(filters.q || filters.type || filters.status);
  return (
    <>
      <header className="page-header">
        <h1>Users &amp; groups</h1>
        <p className="muted">
          Every object Entra asked the app about: its last outcome (the last call's status), and apart from it
          its last failure, dimmed once a later call went through. A failing streak counts consecutive cycles
          that ended in failure for it.
        </p>
      </header>
      <form
        className="filters card"
        aria-label="Filter users and groups"
        onSubmit={(e) => e.preventDefault()}
      >
        <SearchField
          value={filters.q}
          placeholder="userName, displayName, externalId or id"
          onChange={(q) => update({ q })}
        />
        <FilterSelect
          label="Type"
          value={filters.type}
          options={types}
          labels={typeLabels}
          anyLabel="users and groups"
          onChange={(type) => update({ type })}
        />
        <FilterSelect
          label="Status"
          value={filters.status}
          options={statuses}
          labels={statusLabels}
          onChange={(status) => update({ status })}
        />
        <div className="filter-actions">
          <button type="button" onClick={() => setSearch({})} disabled={!anyFilter}>
            Clear filters
          </button>
        </div>
      </form>
      {isPending ? (
        <Loading label="Loading users and groups…" />
      ) : error && !data ? (
        <ErrorView error={error} what="users and groups" />
      ) : (
        <div className="table-block" aria-busy={isFetching}>
          <StaleNote error={error} />
          {data.items.length === 0 ? (
            <Empty>
              {anyFilter ? 'No user or group matches these filters.' : 'No users or groups seen yet.'}
            </Empty>
          ) : (
            <IdentitiesTable items={data.items} placeholder={isPlaceholderData} />
          )}
          <Pager
            label="Users and groups"
            pager={pager}
            nextCursor={data.nextCursor}
            busy={isPlaceholderData}
          />
        </div>
      )}
    </>
  );
}

function IdentitiesTable({ items, placeholder }: { items: Identity[]; placeholder: boolean }) {
  return (
    <DataTable caption="Users and groups" placeholder={placeholder}>
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">Type</th>
          <th scope="col">Last outcome</th>
          <th scope="col" className="num">
            Failing streak
          </th>
          <th scope="col">Last failure</th>
          <th scope="col">Last seen</th>
          <th scope="col">Active</th>
        </tr>
      </thead>
      <tbody>
        {items.map((i) => (
          <tr key={i.id} className={i.failingStreak > 0 ? 'row-failure' : undefined}>
            <th scope="row" className="identity-cell">
              <Link to={`/identities/${i.id}`}>{i.name ?? i.targetId ?? `#${i.id}`}</Link>
              {i.deleted ? <span className="muted"> (deleted)</span> : null}
            </th>
            <td>{i.type}</td>
            <td className="nowrap last-outcome" data-operation-id={i.lastOperationId ?? undefined}>
              <StatusBadge status={i.lastStatus} />{' '}
              {i.lastOperationId !== null ? (
                <Link to={`/operations/${i.lastOperationId}`}>
                  {i.lastOperation} <HttpStatus status={i.lastHttpStatus} />
                </Link>
              ) : null}
            </td>
            <td className="num">
              {i.failingStreak > 0 ? (
                <strong className="form-error">
                  {i.failingStreak} cycle{i.failingStreak === 1 ? '' : 's'}
                </strong>
              ) : (
                <span className="muted">0</span>
              )}
            </td>
            <td className="reason-cell">
              {i.lastFailure ? (
                <ErrorReason
                  operationId={i.lastFailure.operationId}
                  httpStatus={i.lastFailure.httpStatus}
                  errorCode={i.lastFailure.errorCode}
                  reason={i.lastFailure.reason}
                  cycleId={i.lastFailure.cycleId}
                  past={i.lastFailure.past}
                />
              ) : (
                <span className="muted">none</span>
              )}
            </td>
            <td className="nowrap">
              <Time iso={i.lastSeen} />
            </td>
            <td>{i.active === null ? <span className="muted">unknown</span> : i.active ? 'yes' : 'no'}</td>
          </tr>
        ))}
      </tbody>
    </DataTable>
  );
}
