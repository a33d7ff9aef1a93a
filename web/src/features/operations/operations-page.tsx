import { type MouseEvent, useId, useState } from 'react';
import {
  errorCodes,
  operationKinds,
  operationStatuses,
  resourceTypes,
} from '../../../../server/vocabulary.js';
import { FilterSelect } from '../../components/filter-select.js';
import { SearchField } from '../../components/search-field.js';
import { downloadWithToken, getToken } from '../../lib/api-client.js';
import { isoToLocalInput, localInputToIso } from '../../lib/format.js';
import { useCurrentApp, useSearchParams } from '../../lib/router.js';
import { useDebouncedInput } from '../../lib/use-debounced.js';
import { exportCsvUrl } from './api.js';
import { countActive, filtersFromSearch, type OperationFilters } from './filters.js';
import { OperationsTable } from './operations-table.js';

export function OperationsPage() {
  const [search, setSearch] = useSearchParams();
  const filters = filtersFromSearch(search);
  const update = (patch: Partial<OperationFilters>) => setSearch({ ...filters, ...patch });
  return (
    <>
      <header className="page-header">
        <h1>Operations log</h1>
        <p className="muted">
          Every request Entra sent through scimtap and what the app answered, newest first.
        </p>
      </header>
      <FilterBar filters={filters} onChange={update} onClear={() => setSearch({})} />
      <OperationsTable
        source={{ filters }}
        caption="Operations"
        emptyText={
          countActive(filters) ? 'No operation matches these filters.' : 'No operations recorded yet.'
        }
      />
    </>
  );
}

function FilterBar({
  filters,
  onChange,
  onClear,
}: {
  filters: OperationFilters;
  onChange(patch: Partial<OperationFilters>): void;
  onClear(): void;
}) {
  const ids = { http: useId(), from: useId(), to: useId() };
  const [http, setHttp] = useDebouncedInput(filters.httpStatus ?? '', (v) =>
    onChange({ httpStatus: /^[1-5]\d\d$/.test(v) ? v : undefined }),
  );
  const [exportError, setExportError] = useState<string | null>(null);
  const csvUrl = exportCsvUrl(filters, useCurrentApp());
  const onExport = (e: MouseEvent<HTMLAnchorElement>) => {
    // A link cannot send the admin token; with one set, fetch the file instead.
    if (!getToken()) return;
    e.preventDefault();
    setExportError(null);
    downloadWithToken(csvUrl, 'scimtap-operations.csv').catch((err: Error) => setExportError(err.message));
  };
  return (
    <form className="filters card" aria-label="Filter operations" onSubmit={(e) => e.preventDefault()}>
      <SearchField
        value={filters.q}
        placeholder="userName, path, error text, id"
        onChange={(q) => onChange({ q })}
      />
      <FilterSelect
        label="Status"
        value={filters.status}
        options={operationStatuses}
        onChange={(status) => onChange({ status })}
      />
      <FilterSelect
        label="Operation"
        value={filters.operation}
        options={operationKinds}
        onChange={(operation) => onChange({ operation })}
      />
      <FilterSelect
        label="Resource"
        value={filters.resourceType}
        options={resourceTypes}
        onChange={(resourceType) => onChange({ resourceType })}
      />
      <div className="field field-narrow">
        <label htmlFor={ids.http}>HTTP status</label>
        <input
          id={ids.http}
          inputMode="numeric"
          pattern="[1-5][0-9][0-9]"
          placeholder="e.g. 401"
          value={http}
          onChange={(e) => setHttp(e.target.value)}
        />
      </div>
      <FilterSelect
        label="Error code"
        value={filters.errorCode}
        options={errorCodes}
        onChange={(errorCode) => onChange({ errorCode })}
      />
      <div className="field">
        <label htmlFor={ids.from}>From</label>
        <input
          id={ids.from}
          type="datetime-local"
          value={isoToLocalInput(filters.from)}
          onChange={(e) => onChange({ from: localInputToIso(e.target.value) })}
        />
      </div>
      <div className="field">
        <label htmlFor={ids.to}>To</label>
        <input
          id={ids.to}
          type="datetime-local"
          value={isoToLocalInput(filters.to)}
          onChange={(e) => onChange({ to: localInputToIso(e.target.value) })}
        />
      </div>
      {filters.cycle ? (
        <FixedFilter
          label="Cycle"
          value={`#${filters.cycle}`}
          onRemove={() => onChange({ cycle: undefined })}
        />
      ) : null}
      {filters.identity ? (
        <FixedFilter
          label="Identity"
          value={filters.identity}
          onRemove={() => onChange({ identity: undefined })}
        />
      ) : null}
      {filters.action ? (
        <FixedFilter label="Action" value={filters.action} onRemove={() => onChange({ action: undefined })} />
      ) : null}
      <div className="filter-actions">
        <button type="button" onClick={onClear} disabled={countActive(filters) === 0}>
          Clear filters
        </button>
        <a className="button primary" href={csvUrl} download="scimtap-operations.csv" onClick={onExport}>
          <span aria-hidden="true">⤓</span> Export CSV
        </a>
        {exportError ? (
          <span className="form-error" role="alert">
            Export failed: {exportError}
          </span>
        ) : null}
      </div>
    </form>
  );
}

function FixedFilter({ label, value, onRemove }: { label: string; value: string; onRemove(): void }) {
  return (
    <div className="field">
      <span className="field-label">{label}</span>
      <span className="chip">
        {value}
        <button type="button" onClick={onRemove} aria-label={`Remove ${label.toLowerCase()} filter`}>
          ×
        </button>
      </span>
    </div>
  );
}
