import { formatTime } from '../lib/format.js';

/** A local time with the exact UTC instant in a tooltip and machine-readable attribute. */
export function Time({ iso }: { iso: string | null | undefined }) {
  if (!iso) return <span className="muted">—</span>;
  return (
    <time dateTime={iso} title={iso}>
      {formatTime(iso)}
    </time>
  );
}
