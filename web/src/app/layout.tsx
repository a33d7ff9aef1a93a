import type { ReactNode } from 'react';
import { useHealth } from '../features/health/api.js';
import { derivationLag, recorderTooltip, storagePruned } from '../features/health/tooltip.js';
import { useStatus } from '../features/overview/api.js';
import { Link, useLocation } from '../lib/router.js';

const nav = [
  { to: '/', label: 'Overview', match: (p: string) => p === '/' },
  { to: '/cycles', label: 'Cycles', match: (p: string) => p.startsWith('/cycles') },
  {
    to: '/identities',
    label: 'Users & groups',
    match: (p: string) => p.startsWith('/identities') || p.startsWith('/users') || p.startsWith('/groups'),
  },
  { to: '/operations', label: 'Operations', match: (p: string) => p.startsWith('/operations') },
  { to: '/incidents', label: 'Incidents', match: (p: string) => p.startsWith('/incidents') },
];

export function Layout({ children }: { children: ReactNode }) {
  const { pathname } = useLocation();
  const { data: health } = useHealth();
  // The firing count follows the engineer to every page.
  const firing = useStatus().data?.incidents.length ?? 0;
  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <div className="brand">
          <Link to="/" className="brand-name">
            scimtap
          </Link>
          {health ? (
            <span className="brand-app" title="SCIMTAP_APP_NAME">
              <span aria-hidden="true">→ </span>
              <span className="sr-only">provisioning to </span>
              {health.appName ?? 'SCIM app'}
            </span>
          ) : null}
          {health?.mode === 'demo' ? (
            <span
              className="demo-badge"
              title="Demo mode: simulated Entra traffic to an embedded SCIM target"
            >
              DEMO
            </span>
          ) : null}
        </div>
        <nav aria-label="Main">
          <ul>
            {nav.map((n) => (
              <li key={n.to}>
                <Link to={n.to} aria-current={n.match(pathname) ? 'page' : undefined}>
                  {n.label}
                  {n.to === '/incidents' && firing > 0 ? (
                    <span className="nav-count" title={`${firing} firing`}>
                      {firing}
                      <span className="sr-only"> firing</span>
                    </span>
                  ) : null}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        {health ? <HealthPills health={health} /> : null}
      </header>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
      <footer className="footer muted">
        Cycles and outcomes are inferred from the traffic scimtap sees; objects Entra skips never reach it.
        {health ? ` scimtap ${health.version}.` : ''}
      </footer>
    </div>
  );
}

function HealthPills({ health }: { health: NonNullable<ReturnType<typeof useHealth>['data']> }) {
  const dbOk = health.db === 'ok';
  const up = health.upstream;
  const lag = derivationLag(health);
  return (
    <ul className="health" aria-label="scimtap health">
      <li className={dbOk ? 'ok' : 'bad'} title={recorderTooltip(health)}>
        <span aria-hidden="true">{dbOk ? '●' : '▲'}</span> recorder{' '}
        {dbOk ? 'ok' : health.db === 'missing' ? 'file deleted' : health.db}
        {health.recorder.dropped > 0 ? `, ${health.recorder.dropped} dropped` : ''}
        {storagePruned(health) > 0 ? ', pruning to budget' : ''}
      </li>
      <li className={up === 'reachable' ? 'ok' : up === 'unknown' ? 'unknown' : 'bad'}>
        <span aria-hidden="true">{up === 'reachable' ? '●' : up === 'unknown' ? '○' : '▲'}</span> app {up}
      </li>
      {lag ? (
        <li className="unknown" title={lag.title}>
          <span aria-hidden="true">◔</span> {lag.text}
        </li>
      ) : null}
      {health.email?.state === 'failing' ? (
        <li className="bad" title={health.email.lastError ?? undefined}>
          <span aria-hidden="true">▲</span> email failing
          {health.email.pending > 0 ? `, ${health.email.pending} waiting` : ''}
        </li>
      ) : null}
    </ul>
  );
}
