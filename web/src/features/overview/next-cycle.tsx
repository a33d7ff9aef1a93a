import { Time } from '../../components/time.js';
import { formatDuration } from '../../lib/format.js';
import { useNow } from '../../lib/use-now.js';

/** Next expected cycle (last start + SCIMTAP_CYCLE_INTERVAL_MIN) with a live countdown; overdue says so. */
export function NextCycle({ at, running }: { at: string | null; running: boolean }) {
  const now = useNow(1000);
  if (!at) {
    return (
      <section className="card" aria-labelledby="next-title">
        <h2 id="next-title">Next expected cycle</h2>
        <p className="muted">Unknown until a first cycle has been seen.</p>
      </section>
    );
  }
  const left = Date.parse(at) - now;
  return (
    <section className="card" aria-labelledby="next-title">
      <h2 id="next-title">Next expected cycle</h2>
      <p className="countdown" data-testid="countdown" aria-live="off">
        {left >= 0 ? (
          `in ${formatDuration(left)}`
        ) : (
          <>
            <span aria-hidden="true">⚠ </span>overdue by {formatDuration(-left)}
          </>
        )}
      </p>
      <p className="muted">
        expected at <Time iso={at} />
        {running ? ' (after the running cycle)' : ''}
      </p>
    </section>
  );
}
