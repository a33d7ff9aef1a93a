import type { OperationStatus } from '../../../server/vocabulary.js';
import { Link } from '../lib/router.js';
import { lookOf } from '../lib/state.js';

// Colour is never the only signal: each badge has an icon and a word.
const look: Record<string, { icon: string; label: string }> = {
  success: { icon: '✓', label: 'success' },
  failure: { icon: '✕', label: 'failure' },
  warning: { icon: '!', label: 'warning' },
};

export function StatusBadge({ status }: { status: OperationStatus | string | null | undefined }) {
  if (!status) return <span className="muted">—</span>;
  const l = look[status] ?? { icon: '•', label: status };
  return (
    <span className={`badge badge-${status}`}>
      <span aria-hidden="true">{l.icon}</span> {l.label}
    </span>
  );
}

/** An app's overall state in the overview banner's words (lib/state.ts). */
export function StateBadge({ state, title }: { state: string; title?: string }) {
  const l = lookOf(state);
  return (
    <span className={`badge badge-state-${state}`} data-state={state} title={title}>
      <span aria-hidden="true">{l.icon}</span> {l.label}
    </span>
  );
}

const severityIcon: Record<string, string> = { critical: '‼', warning: '⚠', low: '◦', info: 'ℹ' };

export function SeverityBadge({ severity }: { severity: string }) {
  return (
    <span className={`badge badge-severity-${severity}`}>
      <span aria-hidden="true">{severityIcon[severity] ?? '•'}</span> {severity}
    </span>
  );
}

export function HttpStatus({ status }: { status: number | null }) {
  if (status === null) return <span className="muted">none</span>;
  const cls = status >= 500 ? 'http-5xx' : status >= 400 ? 'http-4xx' : 'http-ok';
  return <span className={`http ${cls}`}>{status}</span>;
}

/** An Entra-style error code; inside an element with data-operation-id, that operation's code. */
export function ErrorCode({ code }: { code: string | null | undefined }) {
  return code ? <span className="error-code">{code}</span> : null;
}

/**
 * Why one call failed: its HTTP status, error code and reason, every one from the operation `operationId`
 * (data-operation-id lets a test check that against /api/operations). `cycleId` adds "in cycle #n"; `past` dims
 * a failure that a later call on the same object overcame. A dash when it did not fail.
 */
export function ErrorReason({
  operationId,
  httpStatus,
  errorCode,
  reason,
  cycleId,
  past = false,
}: {
  operationId: number | null;
  httpStatus: number | null;
  errorCode: string | null | undefined;
  reason: string | null | undefined;
  cycleId?: number | null;
  past?: boolean;
}) {
  if (!errorCode && httpStatus === null) return <span className="muted">—</span>;
  const answer = (
    <>
      <HttpStatus status={httpStatus} /> <ErrorCode code={errorCode} />
    </>
  );
  return (
    <span
      className={`error-reason${past ? ' is-past' : ''}`}
      data-operation-id={operationId ?? undefined}
      data-http-status={httpStatus ?? undefined}
      data-error-code={errorCode ?? undefined}
      title={past ? 'a later call on this object went through' : undefined}
    >
      {operationId !== null ? <Link to={`/operations/${operationId}`}>{answer}</Link> : answer}
      {cycleId ? (
        <span className="muted">
          {' '}
          in <Link to={`/cycles/${cycleId}`}>cycle #{cycleId}</Link>
        </span>
      ) : null}
      {past ? <span className="muted"> (past)</span> : null}
      {reason ? <span className="muted"> · {reason}</span> : null}
    </span>
  );
}
