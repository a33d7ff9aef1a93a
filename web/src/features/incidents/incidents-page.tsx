import { Fragment, useState } from 'react';
import { DataTable } from '../../components/data-table.js';
import { Pager, useCursorStack } from '../../components/pager.js';
import { Empty, ErrorView, Loading, StaleNote } from '../../components/states.js';
import { SeverityBadge } from '../../components/status-badge.js';
import { Time } from '../../components/time.js';
import { Link, useSearchParams, withSearch } from '../../lib/router.js';
import type { Incident } from '../../types/api.js';
import { useIncidents } from './api.js';
import { AckButton, SilenceForm, scopeIdentity } from './incident-actions.js';
import { NotificationsLog, TestEmailButton } from './notifications.js';
import { SilencesList } from './silences.js';
import { UnrecognisedClients } from './unrecognised.js';

const tabs = [
  { state: undefined, label: 'Open' },
  { state: 'resolved', label: 'Resolved' },
] as const;

export function IncidentsPage() {
  const [search] = useSearchParams();
  const state = search.state === 'resolved' ? 'resolved' : undefined;
  return (
    <>
      <header className="page-header">
        <h1>Incidents</h1>
        <p className="muted">
          What the rules found, the emails they sent, and the silences in force. Acknowledging stops the 24 h
          reminders; a silence stops the emails until it expires.
        </p>
      </header>
      <nav className="tabs" aria-label="Incident state">
        {tabs.map((t) => (
          <Link
            key={t.label}
            to={withSearch('/incidents', { state: t.state })}
            aria-current={state === t.state ? 'page' : undefined}
          >
            {t.label}
          </Link>
        ))}
      </nav>
      <IncidentsList state={state} />
      <UnrecognisedClients />
      <div className="grid">
        <SilencesList />
        <section className="card" aria-labelledby="mail-title">
          <div className="card-header">
            <h2 id="mail-title">Delivery log</h2>
            <TestEmailButton />
          </div>
          <NotificationsLog />
        </section>
      </div>
    </>
  );
}

function IncidentsList({ state }: { state: 'resolved' | undefined }) {
  const pager = useCursorStack(state ?? 'open');
  const { data, error, isPending, isPlaceholderData } = useIncidents(state ?? 'open', pager.cursor);
  const [silencing, setSilencing] = useState<number | null>(null);
  if (isPending) return <Loading label="Loading incidents…" />;
  if (error && !data) return <ErrorView error={error} what="incidents" />;
  return (
    <section aria-label={state === 'resolved' ? 'Resolved incidents' : 'Open incidents'}>
      <StaleNote error={error} />
      {data.items.length === 0 ? (
        <Empty>
          {state === 'resolved' ? (
            'No resolved incident yet.'
          ) : (
            <>
              <span aria-hidden="true">✓</span> No open incident: nothing is firing or pending.
            </>
          )}
        </Empty>
      ) : (
        <DataTable caption="Incidents" placeholder={isPlaceholderData}>
          <thead>
            <tr>
              <th scope="col">Incident</th>
              <th scope="col">Severity</th>
              <th scope="col">State</th>
              <th scope="col">Summary</th>
              <th scope="col">Since</th>
              <th scope="col">{state === 'resolved' ? 'Resolved' : 'Actions'}</th>
            </tr>
          </thead>
          <tbody>
            {data.items.map((i) => (
              <Fragment key={i.id}>
                <IncidentRow
                  incident={i}
                  resolvedTab={state === 'resolved'}
                  silencing={silencing === i.id}
                  onSilence={() => setSilencing(silencing === i.id ? null : i.id)}
                />
                {silencing === i.id ? (
                  <tr className="detail-row">
                    <td colSpan={6}>
                      <SilenceForm
                        rule={i.rule}
                        identity={scopeIdentity(i.scope)}
                        onDone={() => setSilencing(null)}
                      />
                    </td>
                  </tr>
                ) : null}
              </Fragment>
            ))}
          </tbody>
        </DataTable>
      )}
      <Pager label="Incidents" pager={pager} nextCursor={data.nextCursor} busy={isPlaceholderData} />
    </section>
  );
}

export function IncidentStateBadge({ state }: { state: Incident['state'] }) {
  const icon = state === 'firing' ? '●' : state === 'pending' ? '…' : '✓';
  return (
    <span className={`badge badge-${state}`}>
      <span aria-hidden="true">{icon}</span> {state}
    </span>
  );
}

function IncidentRow({
  incident: i,
  resolvedTab,
  silencing,
  onSilence,
}: {
  incident: Incident;
  resolvedTab: boolean;
  silencing: boolean;
  onSilence(): void;
}) {
  return (
    <tr
      className={i.state === 'firing' ? 'row-failure' : i.state === 'pending' ? 'row-warning' : undefined}
      data-incident-id={i.id}
    >
      <th scope="row">
        <Link to={`/incidents/${i.id}`}>
          #{i.id} {i.rule}
        </Link>
        {i.scope !== 'app' ? <div className="muted small">{i.scope}</div> : null}
      </th>
      <td>
        <SeverityBadge severity={i.severity} />
      </td>
      <td>
        <IncidentStateBadge state={i.state} />
      </td>
      <td className="reason-cell">
        {i.summary}
        {i.entraReason ? <div className="muted small">Entra: {i.entraReason}</div> : null}
        {i.mutedBy ? (
          <div className="muted small">
            <span aria-hidden="true">⊘ </span>
            {i.mutedBy.by === 'silence' ? (
              <>
                silenced until <Time iso={i.mutedBy.until} />
              </>
            ) : (
              `inhibited by ${i.mutedBy.rule}`
            )}
          </div>
        ) : null}
      </td>
      <td className="nowrap">
        <Time iso={i.firedAt ?? i.startedAt} />
      </td>
      <td>
        {resolvedTab ? (
          <Time iso={i.resolvedAt} />
        ) : (
          <div className="actions">
            <AckButton incident={i} />
            <button
              type="button"
              onClick={onSilence}
              aria-expanded={silencing}
              aria-label={`Silence ${i.rule}`}
            >
              Silence…
            </button>
          </div>
        )}
      </td>
    </tr>
  );
}
