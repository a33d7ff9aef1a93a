import { formatRelative, formatTime } from '../lib/format.js';

/** A local time with the exact UTC instant in a tooltip and machine-readable attribute. */
export function Time({ iso }: { iso: string | null | undefined }) {
  if (!iso) return <span className="muted">—</span>;
  return (
    <time dateTime={iso} title={iso}>
      {formatTime(iso)}
    </time>
  );
}

/**
 * A time relative to `now` (`in 4m 10s`, `3m 05s ago`, or the caller's `text`), with the local time and the UTC
 * instant in a tooltip. `now` comes from the caller so that a list of them ticks with one timer.
 */
export function RelativeTime({
  iso,
  now,
  text,
}: {
  iso: string | null | undefined;
  now: number;
  text?: string;
}) {
  if (!iso) return <span className="muted">—</span>;
  return (
    <time dateTime={iso} title={`${formatTime(iso)} (${iso})`}>
      {text ?? formatRelative(iso, now)}
    </time>
  );
}
