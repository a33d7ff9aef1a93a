import { ErrorView, Loading, StaleNote } from '../../components/states.js';
import { ErrorCode, HttpStatus, SeverityBadge } from '../../components/status-badge.js';
import { Time } from '../../components/time.js';
import { humanizeKey } from '../../lib/format.js';
import { Link } from '../../lib/router.js';
import type { Incident } from '../../types/api.js';
import { useIncident } from './api.js';
import { AckForm, SilenceForm, scopeIdentity } from './incident-actions.js';
import { IncidentStateBadge } from './incidents-page.js';
import { DeliveryByReceiver, NotificationsTable } from './notifications.js';

/** /incidents/:id, the page the emails link to. */
export function IncidentPage({ params }: { params: Record<string, string> }) {
  const id = Number(params.id);
  if (!Number.isInteger(id) || id <= 0) return <p role="alert">“{params.id}” is not an incident id.</p>;
  return <IncidentDetail id={id} />;
}

function IncidentDetail({ id }: { id: number }) {
  const { data: incident, error, isPending } = useIncident(id);
  return (
    <>
      <header className="page-header">
        <p className="breadcrumb">
          <Link to="/incidents">Incidents</Link> /
        </p>
        <h1>
          Incident #{id}
          {incident ? (
            <>
              {' '}
              {incident.rule} <SeverityBadge severity={incident.severity} />{' '}
              <IncidentStateBadge state={incident.state} />
            </>
          ) : null}
        </h1>
      </header>
      {isPending ? (
        <Loading label="Loading incident…" />
      ) : error && !incident ? (
        <ErrorView error={error} what={`incident ${id}`} />
      ) : (
        <>
          <StaleNote error={error} />
          <IncidentBody incident={incident} />
        </>
      )}
    </>
  );
}

function IncidentBody({ incident: i }: { incident: Incident }) {
  const identity = scopeIdentity(i.scope);
  return (
    <>
      <IncidentSummary incident={i} identity={identity} />
      <ActOnIt incident={i} identity={identity} />
      <Evidence incident={i} />
      <IncidentNotifications incident={i} />
    </>
  );
}

function IncidentSummary({ incident: i, identity }: { incident: Incident; identity: string | undefined }) {
  return (
    <section className="card" aria-label="Summary">
      <p>
        <strong>{i.summary}</strong>
      </p>
      <dl className="facts">
        <div>
          <dt>Scope</dt>
          <dd>
            {identity ? (
              <Link to={`/identities?q=${encodeURIComponent(identity)}`}>{identity}</Link>
            ) : (
              i.scope
            )}
          </dd>
        </div>
        <div>
          <dt>Resembles (Entra)</dt>
          <dd>{i.entraReason ?? '—'}</dd>
        </div>
        <div>
          <dt>Opened</dt>
          <dd>
            <Time iso={i.startedAt} />
          </dd>
        </div>
        <div>
          <dt>Firing since</dt>
          <dd>
            <Time iso={i.firedAt} />
          </dd>
        </div>
        <div>
          <dt>Resolved</dt>
          <dd>
            <Time iso={i.resolvedAt} />
          </dd>
        </div>
        <div>
          <dt>Emails</dt>
          <dd>
            <MutedBy incident={i} />
          </dd>
        </div>
        <div>
          <dt>Acknowledged</dt>
          <dd>
            {i.acknowledgedAt ? (
              <>
                <Time iso={i.acknowledgedAt} /> {i.acknowledgedBy ? `by ${i.acknowledgedBy}` : ''}
                {i.ackComment ? <div className="muted">“{i.ackComment}”</div> : null}
              </>
            ) : (
              'no'
            )}
          </dd>
        </div>
      </dl>
      <p>
        <Link
          to={`/operations?status=failure${i.firedAt ? `&from=${encodeURIComponent(i.startedAt ?? '')}` : ''}`}
        >
          Failing operations since it opened
        </Link>
      </p>
    </section>
  );
}

function MutedBy({ incident: i }: { incident: Incident }) {
  if (!i.mutedBy) return 'not muted';
  return (
    <span className="badge badge-silenced">
      <span aria-hidden="true">⊘</span>{' '}
      {i.mutedBy.by === 'silence' ? (
        <>
          silenced until <Time iso={i.mutedBy.until} />
        </>
      ) : (
        `inhibited by ${i.mutedBy.rule}`
      )}
    </span>
  );
}

function ActOnIt({ incident: i, identity }: { incident: Incident; identity: string | undefined }) {
  if (i.state === 'resolved') return null;
  return (
    <section className="card" aria-labelledby="act-title">
      <h2 id="act-title">Act on it</h2>
      <h3>Acknowledge</h3>
      <AckForm incident={i} />
      <h3>Silence</h3>
      <SilenceForm rule={i.rule} identity={identity} />
    </section>
  );
}

function IncidentNotifications({ incident: i }: { incident: Incident }) {
  if (!i.notifications) return null;
  return (
    <section className="card" aria-labelledby="emails-title">
      <h2 id="emails-title">Notifications for this incident</h2>
      {i.notifications.length === 0 ? (
        <p className="muted">No notification yet.</p>
      ) : (
        <>
          <DeliveryByReceiver items={i.notifications} />
          <NotificationsTable items={i.notifications} />
        </>
      )}
    </section>
  );
}

function Evidence({ incident: i }: { incident: Incident }) {
  const e = i.evidence;
  const details = Object.entries(e.details);
  return (
    <section className="card" aria-labelledby="evidence-title">
      <h2 id="evidence-title">Evidence</h2>
      <p>
        {e.count.toLocaleString('en-US')} matching call{e.count === 1 ? '' : 's'}
        {e.firstSeen ? (
          <>
            {' '}
            from <Time iso={e.firstSeen} /> to <Time iso={e.lastSeen} />
          </>
        ) : null}
        .
      </p>
      {details.length > 0 ? (
        <dl className="facts">
          {details.map(([k, v]) => (
            <div key={k}>
              <dt>{humanizeKey(k)}</dt>
              <dd className="mono">{Array.isArray(v) ? v.join(', ') : String(v)}</dd>
            </div>
          ))}
        </dl>
      ) : null}
      <SampleRequests samples={e.samples} />
      <AffectedIdentities evidence={e} />
    </section>
  );
}

function SampleRequests({ samples }: { samples: Incident['evidence']['samples'] }) {
  if (samples.length === 0) return null;
  return (
    <table className="table compact">
      <caption>Sample requests</caption>
      <thead>
        <tr>
          <th scope="col">Time</th>
          <th scope="col">Request</th>
          <th scope="col">HTTP</th>
          <th scope="col">Error</th>
        </tr>
      </thead>
      <tbody>
        {samples.map((s) => (
          <tr
            key={s.id}
            data-operation-id={s.id}
            data-http-status={s.httpStatus ?? undefined}
            data-error-code={s.errorCode ?? undefined}
          >
            <td className="nowrap">
              <Link to={`/operations/${s.id}`}>
                <Time iso={s.activityDateTime} />
              </Link>
            </td>
            <td className="mono path-cell">
              {s.httpMethod} {s.path}
            </td>
            <td>
              <HttpStatus status={s.httpStatus} />
            </td>
            <td className="reason-cell">
              {s.errorCode ? <ErrorCode code={s.errorCode} /> : '—'}
              {s.reason ? <span className="muted"> · {s.reason}</span> : null}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function AffectedIdentities({ evidence: e }: { evidence: Incident['evidence'] }) {
  if (e.identities.length === 0) return null;
  return (
    <>
      <h3>
        Affected identities <span className="muted">({e.identityCount})</span>
      </h3>
      <ul className="chips">
        {e.identities.map((x) => (
          <li key={x.key}>
            <Link to={`/identities?q=${encodeURIComponent(x.name)}`}>{x.name}</Link>
            {x.errorCode ? <span className="muted"> {x.errorCode}</span> : null}
            {x.streak ? <span className="muted"> ×{x.streak}</span> : null}
          </li>
        ))}
      </ul>
    </>
  );
}
