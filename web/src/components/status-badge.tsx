import type { OperationStatus } from '../../../server/scim/types.js';

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

/** Why a call failed: its HTTP status, error code and reason; a dash when it did not fail. */
export function ErrorReason({
  httpStatus,
  errorCode,
  reason,
}: {
  httpStatus: number | null;
  errorCode: string | null | undefined;
  reason: string | null | undefined;
}) {
  if (!errorCode) return <span className="muted">—</span>;
  return (
    <>
      <HttpStatus status={httpStatus} /> {errorCode}
      {reason ? <span className="muted"> · {reason}</span> : null}
    </>
  );
}
