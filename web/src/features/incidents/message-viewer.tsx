import { useId, useRef, useState } from 'react';
import { ErrorView, Loading } from '../../components/states.js';
import type { Message, Notification } from '../../types/api.js';
import { useMessage } from './api.js';

/**
 * "View": what the receiver gets, or will get, in a dialog: an email's subject, text and HTML, another receiver's
 * JSON body (secrets masked). A message still waiting in the outbox (no SMTP, no recipient) reads the same.
 */
export function ViewMessageButton({ n }: { n: Notification }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const [open, setOpen] = useState(false);
  const what = n.receiver === 'email' ? 'email' : 'message';
  return (
    <>
      <button
        type="button"
        className="disclosure"
        aria-haspopup="dialog"
        aria-label={`View ${what} #${n.id}`}
        onClick={() => {
          setOpen(true);
          dialog.current?.showModal();
        }}
      >
        View
      </button>
      <dialog
        ref={dialog}
        className="message-dialog"
        aria-labelledby={titleId}
        onClose={() => setOpen(false)}
      >
        <header className="message-dialog-header">
          <h2 id={titleId} className="message-dialog-title">
            {n.receiver === 'email' ? 'Email' : `Message to ${n.receiver}`} #{n.id}
          </h2>
          <button type="button" onClick={() => dialog.current?.close()}>
            Close
          </button>
        </header>
        {open ? <MessageContent id={n.id} /> : null}
      </dialog>
    </>
  );
}

function MessageContent({ id }: { id: number }) {
  const { data, error, isPending } = useMessage(id);
  if (isPending) return <Loading label="Loading the message…" />;
  if (error) return <ErrorView error={error} what={`message ${id}`} />;
  return (
    <>
      <dl className="facts">
        <div>
          <dt>Subject</dt>
          <dd className="message-subject">{data.subject}</dd>
        </div>
        <div>
          <dt>{data.format === 'email' ? 'To' : 'Via'}</dt>
          <dd>
            {data.recipients.length ? (
              data.recipients.join(', ')
            ) : (
              <span className="muted">no recipient yet (SCIMTAP_NOTIFY_TO)</span>
            )}
          </dd>
        </div>
        <div>
          <dt>State</dt>
          <dd>
            {data.state}
            {data.state === 'unsent' ? <span className="muted"> · shown as it will be sent</span> : null}
          </dd>
        </div>
      </dl>
      {data.format === 'email' ? <EmailBodies message={data} /> : <JsonBody message={data} />}
    </>
  );
}

function EmailBodies({ message }: { message: Extract<Message, { format: 'email' }> }) {
  return (
    <div className="message-bodies">
      <figure className="body-view">
        <figcaption>Text</figcaption>
        {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must be reachable by keyboard */}
        <pre tabIndex={0}>{message.text}</pre>
      </figure>
      <figure className="body-view">
        <figcaption>HTML</figcaption>
        {/* An empty sandbox: no script, no forms, no navigation of the dashboard, an opaque origin; a srcdoc
            document inherits the dashboard's CSP too, so it can load nothing from elsewhere. */}
        <iframe
          className="message-html"
          title="Email HTML"
          sandbox=""
          referrerPolicy="no-referrer"
          srcDoc={message.html}
        />
      </figure>
    </div>
  );
}

function JsonBody({ message }: { message: Extract<Message, { format: 'json' }> }) {
  return (
    <figure className="body-view">
      <figcaption>{message.type ?? 'receiver no longer configured'}: JSON body</figcaption>
      {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must be reachable by keyboard */}
      <pre tabIndex={0}>{message.payload}</pre>
      {message.note ? <p className="muted small">{message.note}</p> : null}
    </figure>
  );
}
