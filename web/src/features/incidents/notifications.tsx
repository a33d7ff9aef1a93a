import { Pager, useCursorStack } from '../../components/pager.js';
import { Empty, ErrorView, Loading } from '../../components/states.js';
import { Time } from '../../components/time.js';
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
  const waiting = n.state === 'unsent' && !n.recipients;
  return (
    <span
      className={`badge badge-${n.state === 'unsent' ? 'queued' : n.state}`}
      title={n.lastError ?? undefined}
    >
      <span aria-hidden="true">{stateIcon[n.state] ?? '•'}</span>{' '}
      {waiting ? 'unsent (no SCIMTAP_NOTIFY_TO)' : n.state}
    </span>
  );
}

export function NotificationsTable({ items }: { items: Notification[] }) {
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
          <tr key={n.id} className={n.state === 'failed' ? 'row-failure' : undefined}>
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
              {n.recipients ? <div className="muted small">to {n.recipients}</div> : null}
              {n.lastError ? <div className="form-error small">{n.lastError}</div> : null}
            </td>
            <td>
              <NotificationState n={n} />
              {n.sentAt ? (
                <div className="muted small">
                  <Time iso={n.sentAt} />
                </div>
              ) : null}
            </td>
            <td className="num">{n.attempts}</td>
          </tr>
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
      {data.items.length === 0 ? (
        <Empty>No email queued yet.</Empty>
      ) : (
        <NotificationsTable items={data.items} />
      )}
      <Pager
        label="Email log"
        page={pager.page}
        nextCursor={data.nextCursor}
        onNext={pager.next}
        onPrevious={pager.previous}
        onFirst={pager.first}
        busy={isPlaceholderData}
      />
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
          Queued; see its state below.
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
