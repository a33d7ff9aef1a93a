import { Empty } from '../../components/states.js';
import { SeverityBadge } from '../../components/status-badge.js';
import { Time } from '../../components/time.js';
import { Link } from '../../lib/router.js';
import type { Incident } from '../../types/api.js';

export function FiringIncidents({ incidents }: { incidents: Incident[] }) {
  return (
    <section className="card" aria-labelledby="firing-title">
      <div className="card-header">
        <h2 id="firing-title">Firing incidents</h2>
        <Link to="/incidents">All incidents</Link>
      </div>
      {incidents.length === 0 ? (
        <Empty>
          <span aria-hidden="true">✓</span> Nothing is firing.
        </Empty>
      ) : (
        <ul className="incident-list">
          {incidents.map((i) => (
            <li key={i.id}>
              <SeverityBadge severity={i.severity} />
              <Link to={`/incidents/${i.id}`}>
                <strong>{i.rule}</strong>
              </Link>
              <span>{i.summary}</span>
              <span className="muted">
                since <Time iso={i.firedAt ?? i.startedAt} />
                {i.acknowledgedAt ? ' · acknowledged' : ''}
              </span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
