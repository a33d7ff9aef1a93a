import { BodyView } from '../../components/body-view.js';
import { ErrorView, Loading } from '../../components/states.js';
import { ErrorCode, HttpStatus, StatusBadge } from '../../components/status-badge.js';
import { Time } from '../../components/time.js';
import { explainError } from '../../lib/explain-error.js';
import { formatDuration } from '../../lib/format.js';
import { Link } from '../../lib/router.js';
import { type OperationDetail as Detail, useOperation } from './api.js';

/** One operation: what was asked, what the app answered, and the error in plain words. */
export function OperationDetail({ id }: { id: number }) {
  const { data, error, isPending } = useOperation(id);
  if (isPending) return <Loading label="Loading operation…" />;
  if (error) return <ErrorView error={error} what={`operation ${id}`} />;
  return <OperationDetailView op={data} />;
}

export function ErrorExplanation({
  operationId,
  errorCode,
  httpStatus,
  scimType,
  reason,
}: {
  /** the operation the code, status and reason all come from */
  operationId: number | null;
  errorCode: string | null;
  httpStatus: number | null;
  scimType: string | null;
  reason: string | null;
}) {
  const e = explainError(errorCode, httpStatus, scimType);
  if (!e) return null;
  return (
    <div
      className="explain"
      role="note"
      data-operation-id={operationId ?? undefined}
      data-http-status={httpStatus ?? undefined}
      data-error-code={errorCode ?? undefined}
    >
      <p className="explain-summary">
        <span aria-hidden="true">✕ </span>
        <strong>{errorCode ? <ErrorCode code={errorCode} /> : `HTTP ${httpStatus}`}</strong>: {e.summary}
      </p>
      {reason ? (
        <p>
          <span className="muted">The app said:</span> <q>{reason}</q>
        </p>
      ) : null}
      <p>
        <span className="muted">What to do:</span> {e.action}
      </p>
      {e.entra ? (
        <p>
          <span className="muted">Entra:</span> {e.entra}
        </p>
      ) : null}
    </div>
  );
}

export function OperationDetailView({ op }: { op: Detail }) {
  return (
    <div className="op-detail" data-operation-id={op.id}>
      <ErrorExplanation
        operationId={op.id}
        errorCode={op.errorCode}
        httpStatus={op.httpStatus}
        scimType={op.scimType}
        reason={op.reason}
      />
      <OperationFacts op={op} />
      <ModifiedProperties properties={op.modifiedProperties} />
      <MemberChanges members={op.members} />
      <div className="bodies">
        <BodyView title="Request body" body={op.requestBody} truncated={op.requestTruncated} />
        <BodyView title="Response body" body={op.responseBody} truncated={op.responseTruncated} />
      </div>
    </div>
  );
}

function OperationFacts({ op }: { op: Detail }) {
  return (
    <dl className="facts">
      <div>
        <dt title="activityDateTime in the API and the CSV">Time</dt>
        <dd>
          <Time iso={op.activityDateTime} />
        </dd>
      </div>
      <div>
        <dt>Request</dt>
        <dd className="mono">
          {op.httpMethod} {op.path}
          {op.query ? `?${safeDecode(op.query)}` : ''}
        </dd>
      </div>
      <div>
        <dt>Answer</dt>
        <dd>
          <HttpStatus status={op.httpStatus} /> <StatusBadge status={op.status} /> in{' '}
          {formatDuration(op.durationInMilliseconds)}
        </dd>
      </div>
      <div>
        <dt>Operation</dt>
        <dd>
          {op.operation}{' '}
          <span className="muted">
            ({op.resourceType}, Entra action {op.provisioningAction})
          </span>
        </dd>
      </div>
      <div>
        <dt>Identity</dt>
        <dd>
          {op.identityId ? (
            <Link to={`/identities/${op.identityId}`}>{op.identity ?? op.targetId}</Link>
          ) : (
            (op.identity ?? '—')
          )}
          {op.externalId ? <span className="muted"> · externalId {op.externalId}</span> : null}
          {op.targetId ? <span className="muted"> · id {op.targetId}</span> : null}
        </dd>
      </div>
      <div>
        <dt>Cycle</dt>
        <dd>
          {op.cycleId ? (
            <Link to={`/cycles/${op.cycleId}`}>#{op.cycleId}</Link>
          ) : (
            <span className="muted">none</span>
          )}
        </dd>
      </div>
      <div>
        <dt>Token</dt>
        <dd className="mono">{op.tokenFingerprint ?? <span className="muted">none sent</span>}</dd>
      </div>
      <div>
        <dt>Client</dt>
        <dd>
          {op.clientIp ?? '—'} <span className="muted">{op.userAgent ?? ''}</span>
        </dd>
      </div>
    </dl>
  );
}

function ModifiedProperties({ properties }: { properties: Detail['modifiedProperties'] }) {
  if (properties.length === 0) return null;
  return (
    <table className="table compact">
      <caption>Modified properties</caption>
      <thead>
        <tr>
          <th scope="col">Attribute</th>
          <th scope="col">New value</th>
        </tr>
      </thead>
      <tbody>
        {properties.map((p, i) => (
          // biome-ignore lint/suspicious/noArrayIndexKey: the same attribute may be set twice in one PATCH
          <tr key={i}>
            <td className="mono">{p.name}</td>
            <td className="mono">{p.redacted ? <span className="muted">[redacted]</span> : p.value}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function MemberChanges({ members }: { members: Detail['members'] }) {
  if (members.length === 0) return null;
  return (
    <p>
      Members:{' '}
      {members.map((m) => (
        <span key={m.op} className="member-change">
          {m.op} {m.ids.length} ({m.ids.slice(0, 10).join(', ')}
          {m.ids.length > 10 ? ', …' : ''})
        </span>
      ))}
    </p>
  );
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}
