import { useState } from 'react';
import { Pager, useCursorStack } from '../../components/pager.js';
import { Empty, ErrorView, Loading } from '../../components/states.js';
import { Time } from '../../components/time.js';
import { formatDuration } from '../../lib/format.js';
import { Link } from '../../lib/router.js';
import type { Notification } from '../../types/api.js';
import { useNotifications, useSendTestEmail } from './api.js';
import { ViewMessageButton } from './message-viewer.js';

const stateIcon: Record<string, string> = {
  sent: '✓',
  failed: '✕',
  unsent: '…',
  sending: '↻',
  superseded: '–',
};

export function NotificationState({ n }: { n: Notification }) {
  const noRecipient = n.receiver === 'email' && n.state === 'unsent' && n.recipients.length === 0;
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

/** One line per receiver: where its latest message about this incident stands (the incident page's delivery panel). */
export function DeliveryByReceiver({ items }: { items: Notification[] }) {
  const latest = new Map<string, Notification>();
  for (const n of items) latest.set(n.receiver, n);
  return (
    <ul className="deliveries" aria-label="Delivery by receiver">
      {[...latest.values()].map((n) => (
        <li key={n.receiver}>
          <strong>{n.receiver}</strong> <span className="muted small">{n.recipients.join(', ')}</span> ·{' '}
          {n.event} <NotificationState n={n} /> <ViewMessageButton n={n} />
          {n.lastError ? <span className="form-error small"> {n.lastError}</span> : null}
        </li>
      ))}
    </ul>
  );
}

/** Notifications (every receiver) with their delivery attempts (the delivery log), one row each; attempts open below. */
export function NotificationsTable({ items }: { items: Notification[] }) {
  const [open, setOpen] = useState<number | null>(null);
  return (
    <table className="table compact">
      <thead>
        <tr>
          <th scope="col">Queued</th>
          <th scope="col">Receiver</th>
          <th scope="col">Event</th>
          <th scope="col">Subject</th>
          <th scope="col">State</th>
          <th scope="col" className="num">
            Attempts
          </th>
          <th scope="col">
            <span className="sr-only">Message</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {items.map((n) => (
          <NotificationRow
            key={n.id}
            n={n}
            open={open === n.id}
            onToggle={() => setOpen(open === n.id ? null : n.id)}
          />
        ))}
      </tbody>
    </table>
  );
}

/** A notification's row, and below it when open its delivery attempts. */
function NotificationRow({ n, open, onToggle }: { n: Notification; open: boolean; onToggle: () => void }) {
  return (
    <>
      <tr className={n.state === 'failed' ? 'row-failure' : undefined}>
        <td className="nowrap">
          <Time iso={n.createdAt} />
        </td>
        <td>{n.receiver}</td>
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
          {n.recipients.length ? (
            <div className="muted small">
              {n.receiver === 'email' ? 'to ' : 'via '}
              {n.recipients.join(', ')}
            </div>
          ) : null}
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
            <button type="button" className="disclosure" aria-expanded={open} onClick={onToggle}>
              {n.attempts} <span aria-hidden="true">{open ? '▾' : '▸'}</span>
              <span className="sr-only"> delivery attempts</span>
            </button>
          ) : (
            n.attempts
          )}
        </td>
        <td>
          <ViewMessageButton n={n} />
        </td>
      </tr>
      {open ? <DeliveryAttempts n={n} /> : null}
    </>
  );
}

function DeliveryAttempts({ n }: { n: Notification }) {
  return (
    <tr className="detail-row">
      <td colSpan={7}>
        <ol className="deliveries">
          {n.deliveries.map((d) => (
            <li key={d.id}>
              <Time iso={d.at} /> {d.ok ? '✓ delivered' : '✕ failed'} in {formatDuration(d.durationMs)}
              {d.responseCode ? ` · ${n.receiver === 'email' ? 'SMTP' : 'HTTP'} ${d.responseCode}` : ''}
              {d.error ? <span className="form-error"> · {d.error}</span> : null}
              {!d.ok && d.retryable !== null ? (
                <span className="muted"> ({d.retryable ? 'will retry' : 'permanent'})</span>
              ) : null}
            </li>
          ))}
        </ol>
      </td>
    </tr>
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
        {data.receivers.length > 1
          ? ` · also ${data.receivers
              .filter((r) => r.type !== 'email')
              .map((r) => `${r.name} (${r.type}, ${r.target})`)
              .join(', ')}`
          : ''}
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

/** A test to one receiver: email by default, or any configured one (`POST /api/notifications/test?receiver=`). */
export function TestEmailButton() {
  const send = useSendTestEmail();
  const receivers = useNotifications().data?.receivers ?? [];
  const [receiver, setReceiver] = useState('email');
  return (
    <div className="actions">
      {receivers.length > 1 ? (
        <select aria-label="Receiver to test" value={receiver} onChange={(e) => setReceiver(e.target.value)}>
          {receivers.map((r) => (
            <option key={r.name} value={r.name}>
              {r.name} ({r.type})
            </option>
          ))}
        </select>
      ) : null}
      <button type="button" onClick={() => send.mutate(receiver)} disabled={send.isPending}>
        <span aria-hidden="true">✉</span>{' '}
        {send.isPending
          ? 'Queuing…'
          : receiver === 'email'
            ? 'Send a test email'
            : `Send a test to ${receiver}`}
      </button>
      {send.isSuccess && send.data.notification ? (
        <span className="form-ok" role="status">
          <span aria-hidden="true">✓</span> Test{' '}
          {send.data.notification.receiver === 'email' ? 'email' : 'message'} #{send.data.notification.id}{' '}
          queued
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
