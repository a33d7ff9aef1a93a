import { prettyBody } from '../lib/body.js';

export function BodyView({
  title,
  body,
  truncated,
}: {
  title: string;
  body: string | null;
  truncated?: boolean;
}) {
  const text = prettyBody(body);
  return (
    <figure className="body-view">
      <figcaption>
        {title}
        {truncated ? <span className="muted"> (truncated at the capture limit)</span> : null}
      </figcaption>
      {text === null ? (
        <p className="muted">Not captured (no body, SCIMTAP_CAPTURE=none, or dropped by body retention).</p>
      ) : text === '' ? (
        <p className="muted">Empty body.</p>
      ) : (
        // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must be reachable by keyboard
        <pre tabIndex={0}>{text}</pre>
      )}
    </figure>
  );
}
