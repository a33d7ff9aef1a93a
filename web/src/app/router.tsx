import { type ComponentType, lazy, type ReactNode, Suspense, useEffect } from 'react';
import { ErrorView, Loading } from '../components/states.js';
import { appCount, useApps } from '../features/fleet/api.js';
import { FleetPage } from '../features/fleet/fleet-page.js';
import { OverviewPage } from '../features/overview/overview-page.js';
import { findRoute, Link, useLocation } from '../lib/router.js';
import { Layout } from './layout.js';

type Page = ComponentType<{ params: Record<string, string> }>;

interface Route {
  path: string;
  title: string;
  component: Page;
  /** starts loading a lazy page's code */
  preload?: () => void;
}

/**
 * A page whose code downloads when it is first shown (or preloaded). The first pages, the fleet page (several
 * apps) and the overview (one), are in the main bundle; the others would only delay them.
 */
function lazyPage(load: () => Promise<Page>): Pick<Route, 'component' | 'preload'> {
  let loading: Promise<{ default: Page }> | undefined;
  const get = () => {
    loading ??= load().then((page) => ({ default: page }));
    return loading;
  };
  return { component: lazy(get), preload: () => void get() };
}

const cyclesPage = lazyPage(() => import('../features/cycles/cycles-page.js').then((m) => m.CyclesPage));
const cyclePage = lazyPage(() => import('../features/cycles/cycle-page.js').then((m) => m.CyclePage));
const identitiesPage = lazyPage(() =>
  import('../features/identities/identities-page.js').then((m) => m.IdentitiesPage),
);
const identityPage = lazyPage(() =>
  import('../features/identities/identity-page.js').then((m) => m.IdentityPage),
);
const operationsPage = lazyPage(() =>
  import('../features/operations/operations-page.js').then((m) => m.OperationsPage),
);
const operationPage = lazyPage(() =>
  import('../features/operations/operation-page.js').then((m) => m.OperationPage),
);
const incidentsPage = lazyPage(() =>
  import('../features/incidents/incidents-page.js').then((m) => m.IncidentsPage),
);
const incidentPage = lazyPage(() =>
  import('../features/incidents/incident-page.js').then((m) => m.IncidentPage),
);

// Paths are part of the contract with the emails' deep links (e.g. /identities/42, /incidents/7). With several
// apps each app's pages are these under /apps/<id> (e.g. /apps/tanium/incidents/7), and `/` is the fleet page.
const routes: Route[] = [
  { path: '/', title: 'Overview', component: OverviewPage },
  { path: '/cycles', title: 'Cycles', ...cyclesPage },
  { path: '/cycles/:id', title: 'Cycle', ...cyclePage },
  { path: '/identities', title: 'Users & groups', ...identitiesPage },
  { path: '/identities/:id', title: 'Identity', ...identityPage },
  // aliases: an email or a habit may say users or groups
  { path: '/users', title: 'Users & groups', ...identitiesPage },
  { path: '/users/:id', title: 'Identity', ...identityPage },
  { path: '/groups', title: 'Users & groups', ...identitiesPage },
  { path: '/groups/:id', title: 'Identity', ...identityPage },
  { path: '/operations', title: 'Operations', ...operationsPage },
  { path: '/operations/:id', title: 'Operation', ...operationPage },
  { path: '/incidents', title: 'Incidents', ...incidentsPage },
  { path: '/incidents/:id', title: 'Incident', ...incidentPage },
];

interface View {
  title: string;
  /** a page about no app (the fleet page and its kin): the layout makes no call about an app */
  fleet: boolean;
  body: ReactNode;
}

export function AppRoutes() {
  const { pathname, search } = useLocation();
  const found = findRoute(routes, pathname);
  const apps = useApps();
  const count = appCount(apps.data);
  const { app, route, params } = found;
  const appName = app === null ? null : (apps.data?.apps.find((a) => a.id === app)?.name ?? app);

  let view: View;
  if (app === null) {
    if (count === undefined && apps.errorUpdatedAt === 0) {
      // Which page `/` is depends on how many apps there are. (Should the list fail, the fleet page says so.)
      view = { title: 'Loading', fleet: true, body: <Loading label="Loading…" /> };
    } else if (count === 1) {
      // One app: today's dashboard, unprefixed, unchanged.
      view = route
        ? { title: route.title, fleet: false, body: <route.component params={params} /> }
        : { title: 'Not found', fleet: false, body: <NotFound pathname={pathname} /> };
    } else if (found.path === '/') {
      view = { title: 'All apps', fleet: true, body: <FleetPage /> };
    } else if (route) {
      // An app's page without its app (an old link): which app?
      const qs = search.toString();
      const rest = `${found.path}${qs ? `?${qs}` : ''}`;
      view = { title: route.title, fleet: true, body: <PickApp path={rest} /> };
    } else {
      view = { title: 'Not found', fleet: true, body: <NotFound pathname={pathname} /> };
    }
  } else if (apps.data && !apps.data.apps.some((a) => a.id === app)) {
    view = { title: 'Unknown app', fleet: true, body: <UnknownApp app={app} /> };
  } else if (route) {
    view = { title: route.title, fleet: false, body: <route.component params={params} /> };
  } else {
    view = { title: 'Not found', fleet: false, body: <NotFound pathname={pathname} /> };
  }

  const title = appName ? `${view.title} · ${appName}` : view.title;
  useEffect(() => {
    document.title = `${title} · scimtap`;
  }, [title]);
  // A deep link's page code downloads while the apps list (which decides whether it is shown) loads.
  useEffect(() => route?.preload?.(), [route]);
  // Keyed by the app: moving to another app's page mounts it afresh, so no view shows the previous app's answer
  // while the next one loads (queries keep the previous data as a placeholder only within one app).
  return (
    <Layout key={app ?? ''} fleet={view.fleet}>
      <Suspense fallback={<Loading label="Loading…" />}>{view.body}</Suspense>
    </Layout>
  );
}

function NotFound({ pathname }: { pathname: string }) {
  return (
    <>
      <h1>Page not found</h1>
      <p>
        There is no page at <code>{pathname}</code>. <Link to="/">Go to the overview</Link>.
      </p>
    </>
  );
}

function UnknownApp({ app }: { app: string }) {
  return (
    <>
      <h1>Unknown app</h1>
      <p>
        scimtap serves no app <code>{app}</code>.{' '}
        <Link to="/" app={null}>
          See all apps
        </Link>
        .
      </p>
    </>
  );
}

/** An app's page asked for without its app (a link from before there were several): this page of which app? */
function PickApp({ path }: { path: string }) {
  const { data, error, isPending } = useApps();
  if (isPending) return <Loading label="Loading apps…" />;
  if (!data) return <ErrorView error={error ?? 'no apps list'} what="the apps" />;
  return (
    <>
      <h1>Which app?</h1>
      <p>
        scimtap serves several apps, and <code>{path}</code> is a page of one of them. Open it for:
      </p>
      <ul className="pick-app">
        {data.apps.map((a) => (
          <li key={a.id}>
            <Link to={path} app={a.id}>
              {a.name}
            </Link>
          </li>
        ))}
      </ul>
      <p>
        Or{' '}
        <Link to="/" app={null}>
          see all apps
        </Link>
        .
      </p>
    </>
  );
}
