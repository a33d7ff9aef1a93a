import { Fragment, useState } from 'react';
import { Pager, useCursorStack } from '../../components/pager.js';
import { Empty, ErrorView, Loading } from '../../components/states.js';
import { Time } from '../../components/time.js';
import { formatDuration } from '../../lib/format.js';
import { Link } from '../../lib/router.js';
import type { Notification } from '../../types/api.js';
import { useNotifications, useSendTestEmail } from './api.js';

const stateIcon: Record<string, string> = {
  sent: '✓',
  failed: '✕',
  unsent: '…',
  sending: '↻',
  superseded: '–',
};

export function NotificationState({ n }: { n: Notification }) {
  const noRecipient = n.state === 'unsent' && n.recipients.length === 0;
  return (
    <span
      className={`badge badge-${n.state === 'unsent' ? 'queued' : n.state}`}
      title={n.lastError ?? undefined}
    >
      <span aria-hidden="true">{stateIcon[n.state] ?? '•'}</span>{' '}
      {noRecipient ? 'unsent: no recipient' : n.state}
    </span>
  );
}

/** Emails with their delivery attempts (the delivery log), one row each; attempts open below. */
export function NotificationsTable({ items }: { items: Notification[] }) {
  const [open, setOpen] = useState<number | null>(null);
  return (
    <table className="table compact">
      <thead>
        <tr>
          <th scope="col">Queued</th>
          <th scope="col">Event</th>
          <th scope="col">Subject</th>
          <th scope="col">State</th>
          <th scope="col" className="num">
            Attempts
          </th>
        </tr>
      </thead>
      <tbody>
        {items.map((n) => (
          <Fragment key={n.id}>
            <tr className={n.state === 'failed' ? 'row-failure' : undefined}>
              <td className="nowrap">
                <Time iso={n.createdAt} />
              </td>
              <td>
                {n.event}
                {n.incidentId ? (
                  <div className="small">
                    <Link to={`/incidents/${n.incidentId}`}>incident #{n.incidentId}</Link>
                  </div>
                ) : null}
              </td>
              <td className="reason-cell">
                {n.subject}
                {n.recipients.length ? <div className="muted small">to {n.recipients.join(', ')}</div> : null}
                {n.lastError ? <div className="form-error small">{n.lastError}</div> : null}
              </td>
              <td>
                <NotificationState n={n} />
                {n.sentAt ? (
                  <div className="muted small">
                    <Time iso={n.sentAt} />
                  </div>
                ) : n.nextAttemptAt && n.recipients.length ? (
                  <div className="muted small">
                    next try <Time iso={n.nextAttemptAt} />
                  </div>
                ) : null}
              </td>
              <td className="num">
                {n.deliveries.length > 0 ? (
                  <button
                    type="button"
                    className="disclosure"
                    aria-expanded={open === n.id}
                    onClick={() => setOpen(open === n.id ? null : n.id)}
                  >
                    {n.attempts} <span aria-hidden="true">{open === n.id ? '▾' : '▸'}</span>
                    <span className="sr-only"> delivery attempts</span>
                  </button>
                ) : (
                  n.attempts
                )}
              </td>
            </tr>
            {open === n.id ? (
              <tr className="detail-row">
                <td colSpan={5}>
                  <ol className="deliveries">
                    {n.deliveries.map((d) => (
                      <li key={d.id}>
                        <Time iso={d.at} /> {d.ok ? '✓ delivered' : '✕ failed'} in{' '}
                        {formatDuration(d.durationMs)}
                        {d.responseCode ? ` · SMTP ${d.responseCode}` : ''}
                        {d.error ? <span className="form-error"> · {d.error}</span> : null}
                        {!d.ok && d.retryable !== null ? (
                          <span className="muted"> ({d.retryable ? 'will retry' : 'permanent'})</span>
                        ) : null}
                      </li>
                    ))}
                  </ol>
                </td>
              </tr>
            ) : null}
          </Fragment>
        ))}
      </tbody>
    </table>
  );
}

export function NotificationsLog() {
  const pager = useCursorStack('notifications');
  const { data, error, isPending, isPlaceholderData } = useNotifications(pager.cursor);
  if (isPending) return <Loading />;
  if (error && !data) return <ErrorView error={error} what="the email log" />;
  return (
    <>
      <p className="muted small">
        {data.smtpConfigured
          ? 'SMTP configured'
          : 'SMTP not configured (SCIMTAP_SMTP_URL): emails stay here, unsent'}
        {' · '}
        {data.recipients.length ? `to ${data.recipients.join(', ')}` : 'no recipient (SCIMTAP_NOTIFY_TO)'}
      </p>
      {data.items.length === 0 ? (
        <Empty>No email queued yet.</Empty>
      ) : (
        <NotificationsTable items={data.items} />
      )}
      <Pager label="Email log" pager={pager} nextCursor={data.nextCursor} busy={isPlaceholderData} />
    </>
  );
}

export function TestEmailButton() {
  const send = useSendTestEmail();
  return (
    <div className="actions">
      <button type="button" onClick={() => send.mutate()} disabled={send.isPending}>
        <span aria-hidden="true">✉</span> {send.isPending ? 'Queuing…' : 'Send a test email'}
      </button>
      {send.isSuccess ? (
        <span className="form-ok" role="status">
          <span aria-hidden="true">✓</span> Test email #{send.data.notification.id} queued
        </span>
      ) : null}
      {send.error ? (
        <span className="form-error" role="alert">
          {send.error.message}
        </span>
      ) : null}
    </div>
  );
}
