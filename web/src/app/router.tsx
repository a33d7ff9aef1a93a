import { type ComponentType, useEffect } from 'react';
import { CyclePage } from '../features/cycles/cycle-page.js';
import { CyclesPage } from '../features/cycles/cycles-page.js';
import { IdentitiesPage } from '../features/identities/identities-page.js';
import { IdentityPage } from '../features/identities/identity-page.js';
import { IncidentPage } from '../features/incidents/incident-page.js';
import { IncidentsPage } from '../features/incidents/incidents-page.js';
import { OperationPage } from '../features/operations/operation-page.js';
import { OperationsPage } from '../features/operations/operations-page.js';
import { OverviewPage } from '../features/overview/overview-page.js';
import { Link, matchPath, useLocation } from '../lib/router.js';
import { Layout } from './layout.js';

interface Route {
  path: string;
  title: string;
  component: ComponentType<{ params: Record<string, string> }>;
}

// Paths are part of the contract with the emails' deep links (e.g. /identities/42, /incidents/7).
const routes: Route[] = [
  { path: '/', title: 'Overview', component: OverviewPage },
  { path: '/cycles', title: 'Cycles', component: CyclesPage },
  { path: '/cycles/:id', title: 'Cycle', component: CyclePage },
  { path: '/identities', title: 'Users & groups', component: IdentitiesPage },
  { path: '/identities/:id', title: 'Identity', component: IdentityPage },
  // aliases: an email or a habit may say users or groups
  { path: '/users', title: 'Users & groups', component: IdentitiesPage },
  { path: '/users/:id', title: 'Identity', component: IdentityPage },
  { path: '/groups', title: 'Users & groups', component: IdentitiesPage },
  { path: '/groups/:id', title: 'Identity', component: IdentityPage },
  { path: '/operations', title: 'Operations', component: OperationsPage },
  { path: '/operations/:id', title: 'Operation', component: OperationPage },
  { path: '/incidents', title: 'Incidents', component: IncidentsPage },
  { path: '/incidents/:id', title: 'Incident', component: IncidentPage },
];

export function AppRoutes() {
  const { pathname } = useLocation();
  let found: { route: Route; params: Record<string, string> } | null = null;
  for (const route of routes) {
    const params = matchPath(route.path, pathname);
    if (params) {
      found = { route, params };
      break;
    }
  }
  const title = found?.route.title ?? 'Not found';
  useEffect(() => {
    document.title = `${title} · scimtap`;
  }, [title]);
  if (!found) {
    return (
      <Layout>
        <h1>Page not found</h1>
        <p>
          There is no page at <code>{pathname}</code>. <Link to="/">Go to the overview</Link>.
        </p>
      </Layout>
    );
  }
  const Page = found.route.component;
  return (
    <Layout>
      <Page params={found.params} />
    </Layout>
  );
}
