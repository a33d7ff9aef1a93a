import type { ReactNode } from 'react';
import { appCount, useApps } from '../features/fleet/api.js';
import { useHealth } from '../features/health/api.js';
import { derivationLag, recorderTooltip, storagePruned } from '../features/health/tooltip.js';
import { useStatus } from '../features/overview/api.js';
import { splitAppPath } from '../lib/app-scope.js';
import { Link, useCurrentApp, useLocation } from '../lib/router.js';

// Targets are app-relative: inside an app, Link puts /apps/<id> in front of them.
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

/**
 * The page's frame. An app's pages (the only ones with a single app) show the app's name, its navigation and
 * health; with several apps, an "All apps" link back to the fleet page too. A `fleet` page (the fleet page,
 * or an unknown app) is about no app and asks nothing about one.
 */
export function Layout({ children, fleet = false }: { children: ReactNode; fleet?: boolean }) {
  return fleet ? <FleetLayout>{children}</FleetLayout> : <AppLayout>{children}</AppLayout>;
}

function FleetLayout({ children }: { children: ReactNode }) {
  const { pathname } = useLocation();
  return (
    <Shell
      brand={null}
      nav={
        <nav aria-label="Main">
          <ul>
            <li>
              <Link to="/" app={null} aria-current={pathname === '/' ? 'page' : undefined}>
                All apps
              </Link>
            </li>
          </ul>
        </nav>
      }
      footer=""
    >
      {children}
    </Shell>
  );
}

function AppLayout({ children }: { children: ReactNode }) {
  const { pathname } = useLocation();
  const path = splitAppPath(pathname).path;
  const app = useCurrentApp();
  const apps = useApps();
  const several = (appCount(apps.data) ?? 0) >= 2;
  const { data: health } = useHealth();
  // The firing count follows the engineer to every page.
  const firing = useStatus().data?.incidents.length ?? 0;
  const name = (app !== null && apps.data?.apps.find((a) => a.id === app)?.name) || health?.appName;
  return (
    <Shell
      brand={
        <>
          {several ? (
            <Link to="/" app={null} className="brand-fleet">
              <span aria-hidden="true">‹ </span>All apps
            </Link>
          ) : null}
          {name || health ? (
            <span className="brand-app" title={app === null ? 'SCIMTAP_APP_NAME' : `app id: ${app}`}>
              <span aria-hidden="true">→ </span>
              <span className="sr-only">provisioning to </span>
              <span data-testid="app-name">{name ?? 'SCIM app'}</span>
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
        </>
      }
      nav={
        <nav aria-label="Main">
          <ul>
            {nav.map((n) => (
              <li key={n.to}>
                <Link to={n.to} aria-current={n.match(path) ? 'page' : undefined}>
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
      }
      health={health ? <HealthPills health={health} /> : null}
      footer={health ? ` scimtap ${health.version}.` : ''}
    >
      {children}
    </Shell>
  );
}

function Shell({
  brand,
  nav,
  health,
  footer,
  children,
}: {
  brand: ReactNode;
  nav: ReactNode;
  health?: ReactNode;
  footer: string;
  children: ReactNode;
}) {
  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <div className="brand">
          <Link to="/" app={null} className="brand-name">
            scimtap
          </Link>
          {brand}
        </div>
        {nav}
        {health}
      </header>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
      <footer className="footer muted">
        Cycles and outcomes are inferred from the traffic scimtap sees; objects Entra skips never reach it.
        {footer}
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
