import { ErrorView, Loading, StaleNote } from '../../components/states.js';
import { ErrorReason, HttpStatus, StatusBadge } from '../../components/status-badge.js';
import { Time } from '../../components/time.js';
import { Link } from '../../lib/router.js';
import type { Identity, IdentityDetail } from '../../types/api.js';
import { ErrorExplanation } from '../operations/operation-detail.js';
import { OperationsTable } from '../operations/operations-table.js';
import { useIdentity } from './api.js';

/** /identities/:id: one user or group, why it fails, and the timeline of every operation on it. */
export function IdentityPage({ params }: { params: Record<string, string> }) {
  const id = Number(params.id);
  const valid = Number.isInteger(id) && id > 0;
  return valid ? <IdentityDetailView id={id} /> : <p role="alert">“{params.id}” is not an identity id.</p>;
}

function IdentityDetailView({ id }: { id: number }) {
  const { data, error, isPending } = useIdentity(id);
  const identity = data?.identity;
  return (
    <>
      <header className="page-header">
        <p className="breadcrumb">
          <Link to="/identities">Users &amp; groups</Link> /
        </p>
        <h1>
          {identity ? (identity.name ?? identity.targetId ?? `#${id}`) : `Identity #${id}`}
          {identity ? <StatusBadge status={identity.lastStatus} /> : null}
        </h1>
      </header>
      {isPending ? (
        <Loading label="Loading identity…" />
      ) : error && !data ? (
        <ErrorView error={error} what={`identity ${id}`} />
      ) : (
        <>
          <StaleNote error={error} />
          <IdentitySummary identity={data.identity} />
          <Memberships identity={data.identity} memberships={data.memberships} />
        </>
      )}
      {/* an identity that does not exist has no timeline: one error is enough */}
      {data ? (
        <section aria-labelledby="timeline-title">
          <h2 id="timeline-title">Timeline</h2>
          <p className="muted small">
            Every operation on this object, newest first. Open a row for the request and the app’s answer.
          </p>
          <OperationsTable
            source={{ identityId: id }}
            caption="Timeline"
            emptyText="No operations recorded for this identity."
            showIdentity={false}
            expandFirstFailure
          />
        </section>
      ) : null}
    </>
  );
}

function IdentitySummary({ identity: i }: { identity: Identity }) {
  return (
    <>
      {i.lastFailure && !i.lastFailure.past ? (
        <ErrorExplanation
          operationId={i.lastFailure.operationId}
          errorCode={i.lastFailure.errorCode}
          httpStatus={i.lastFailure.httpStatus}
          scimType={null}
          reason={i.lastFailure.reason}
        />
      ) : null}
      <section className="card" aria-label="Summary">
        <dl className="facts">
          <div>
            <dt>Type</dt>
            <dd>{i.type}</dd>
          </div>
          <div>
            <dt>Failing streak</dt>
            <dd>
              {i.failingStreak > 0 ? (
                <>
                  <strong className="form-error">
                    {i.failingStreak} cycle{i.failingStreak === 1 ? '' : 's'}
                  </strong>{' '}
                  since <Time iso={i.failingSince} />
                </>
              ) : (
                'not failing'
              )}
            </dd>
          </div>
          <LastOutcome identity={i} />
          <LastFailure identity={i} />
          <div>
            <dt>Active</dt>
            <dd>
              {i.deleted ? 'deleted' : i.active === null ? 'unknown' : i.active ? 'yes' : 'no (disabled)'}
            </dd>
          </div>
          <div>
            <dt>externalId</dt>
            <dd className="mono">{i.externalId ?? '—'}</dd>
          </div>
          <div>
            <dt>Id in the app</dt>
            <dd className="mono">{i.targetId ?? '—'}</dd>
          </div>
          <div>
            <dt>First / last seen</dt>
            <dd>
              <Time iso={i.firstSeen} /> / <Time iso={i.lastSeen} />
            </dd>
          </div>
        </dl>
      </section>
    </>
  );
}

function LastOutcome({ identity: i }: { identity: Identity }) {
  return (
    <div>
      <dt>Last outcome</dt>
      <dd className="last-outcome" data-operation-id={i.lastOperationId ?? undefined}>
        <StatusBadge status={i.lastStatus} />{' '}
        {i.lastOperationId !== null ? (
          <Link to={`/operations/${i.lastOperationId}`}>
            {i.lastOperation} <HttpStatus status={i.lastHttpStatus} />
          </Link>
        ) : (
          '—'
        )}{' '}
        {i.lastCycleId ? (
          <span className="muted">
            in <Link to={`/cycles/${i.lastCycleId}`}>cycle #{i.lastCycleId}</Link>
          </span>
        ) : null}
      </dd>
    </div>
  );
}

function LastFailure({ identity: i }: { identity: Identity }) {
  return (
    <div>
      <dt>Last failure</dt>
      <dd>
        {i.lastFailure ? (
          <>
            <ErrorReason
              operationId={i.lastFailure.operationId}
              httpStatus={i.lastFailure.httpStatus}
              errorCode={i.lastFailure.errorCode}
              reason={null}
              cycleId={i.lastFailure.cycleId}
              past={i.lastFailure.past}
            />{' '}
            <Time iso={i.lastFailure.time} />
          </>
        ) : (
          'none seen'
        )}
      </dd>
    </div>
  );
}

function Memberships({
  identity,
  memberships: m,
}: {
  identity: Identity;
  memberships: IdentityDetail['memberships'];
}) {
  if (m.total === 0) return null;
  const title = m.role === 'members' ? 'Members seen' : 'Groups seen';
  return (
    <section className="card" aria-labelledby="memberships-title">
      <h2 id="memberships-title">
        {title} <span className="muted">({m.total})</span>
      </h2>
      <p className="muted small">
        From successful member changes of {identity.type === 'Group' ? 'this group' : 'groups with this user'}
        .
      </p>
      <ul className="chips">
        {m.items.slice(0, 200).map((x) => (
          <li key={`${x.identityId}-${x.targetId}`}>
            {x.identityId ? (
              <Link to={`/identities/${x.identityId}`}>{x.name ?? x.targetId}</Link>
            ) : (
              (x.name ?? x.targetId)
            )}
          </li>
        ))}
        {m.total > 200 ? <li className="muted">… and {m.total - 200} more</li> : null}
      </ul>
    </section>
  );
}
