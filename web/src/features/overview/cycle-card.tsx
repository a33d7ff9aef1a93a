import { RiskBadge } from '../../components/risk-badge.js';
import { Time } from '../../components/time.js';
import { formatCount, formatDuration, formatPercent } from '../../lib/format.js';
import { Link } from '../../lib/router.js';
import { useNow } from '../../lib/use-now.js';
import type { Cycle } from '../../types/api.js';
import { useCycleDetail } from './api.js';
import { type ProgressView, progressView } from './cycle-progress.js';
import { type OutcomeCounts, outcomeCounts } from './outcome-counts.js';

const kindLabel: Record<string, string> = {
  initial: 'Initial cycle',
  incremental: 'Incremental cycle',
  testConnection: 'Test Connection',
  onDemand: 'On-demand provisioning',
};

/** The current (or last) cycle: what Entra's progress bar shows, plus what the app answered. */
export function CycleCard({ cycle }: { cycle: Cycle }) {
  const now = useNow(1000);
  const v = progressView(cycle, now);
  // The detail of the same cycle: placeholder data from the previous cycle must not show as this one's counts.
  const detail = useCycleDetail(cycle.id);
  const counts: OutcomeCounts | null =
    detail.data && detail.data.id === cycle.id ? outcomeCounts(detail.data) : null;
  const running = cycle.state === 'running';
  return (
    <section
      className={`card cycle-card risk-${cycle.risk}`}
      aria-labelledby="cycle-title"
      data-cycle-id={cycle.id}
      data-risk={cycle.risk}
    >
      <div className="card-header">
        <h2 id="cycle-title">
          {running ? 'Current' : 'Last'} cycle:{' '}
          <Link to={`/cycles/${cycle.id}`}>
            {kindLabel[cycle.kind] ?? cycle.kind} #{cycle.id}
          </Link>{' '}
          <span className={`badge badge-${cycle.state}`}>
            <span aria-hidden="true">{running ? '▶' : '■'}</span> {cycle.state}
          </span>{' '}
          <RiskBadge risk={cycle.risk} />
        </h2>
        <span className="muted">
          started <Time iso={cycle.startedAt} />
        </span>
      </div>
      <ProgressBar view={v} running={running} />
      <dl className="facts">
        <div>
          <dt>Processed</dt>
          <dd data-testid="cycle-processed">{v.processedText}</dd>
        </div>
        <div>
          <dt>{running ? 'ETA' : 'Finished'}</dt>
          <dd>{running ? v.etaText : <Time iso={cycle.endedAt} />}</dd>
        </div>
        <div>
          <dt>{running ? 'Elapsed' : 'Duration'}</dt>
          <dd>{formatDuration(v.elapsedMs)}</dd>
        </div>
        <div>
          <dt>Calls</dt>
          <dd>
            {formatCount(cycle.total)}
            <span className="muted"> · {formatPercent(cycle.failureRate)} failed</span>
          </dd>
        </div>
        <div>
          <dt>Latency p50 / p95</dt>
          <dd>
            {formatDuration(cycle.latency.p50Ms)} / {formatDuration(cycle.latency.p95Ms)}
          </dd>
        </div>
      </dl>
      {v.entraText ? <p className="muted small">{v.entraText}.</p> : null}
      {v.hint ? <p className="muted small">{v.hint}</p> : null}
      <OutcomeCountList cycle={cycle} counts={counts} />
    </section>
  );
}

function ProgressBar({ view: v, running }: { view: ProgressView; running: boolean }) {
  return (
    <div
      className="progress"
      role="progressbar"
      aria-label="Cycle progress"
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={v.percent ?? undefined}
      aria-valuetext={`${v.label}, ${v.processedText}`}
      data-testid="cycle-progress"
    >
      <div
        className={`progress-fill${v.percent === null ? ' is-unknown' : v.percent >= 100 && !running ? ' is-done' : ''}`}
        style={v.percent === null ? undefined : { width: `${v.percent}%` }}
      />
      <span className="progress-label">{v.label}</span>
    </div>
  );
}

function OutcomeCountList({ cycle, counts }: { cycle: Cycle; counts: OutcomeCounts | null }) {
  return (
    <ul className="counts" aria-label="Outcomes in this cycle" data-testid="cycle-counts">
      <Count label="created" value={counts?.created} />
      <Count label="updated" value={counts?.updated} />
      <Count label="disabled" value={counts?.disabled} />
      <Count label="deleted" value={counts?.deleted} />
      {/* failures come with the status itself, so they never wait for the detail */}
      <Count
        label="failed"
        value={cycle.failures}
        bad={cycle.failures > 0}
        href={`/operations?cycle=${cycle.id}&status=failure`}
      />
    </ul>
  );
}

function Count({
  label,
  value,
  bad,
  href,
}: {
  label: string;
  value: number | undefined;
  bad?: boolean;
  href?: string;
}) {
  const body = (
    <>
      <span className="count-value" data-count={label}>
        {formatCount(value)}
      </span>
      <span className="count-label">
        {bad ? <span aria-hidden="true">✕ </span> : null}
        {label}
      </span>
    </>
  );
  return (
    <li className={bad ? 'is-bad' : undefined}>{href && value ? <Link to={href}>{body}</Link> : body}</li>
  );
}
