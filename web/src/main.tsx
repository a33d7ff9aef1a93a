import { requestAppsEarly } from './features/fleet/early.js';

// This entry is small on purpose: it asks for the apps list at once, then loads the dashboard (React and the
// pages, ~360 kB), so that the two downloads overlap instead of the request waiting for the code.
requestAppsEarly();
void import('./app/mount.js').then(({ mount }) => mount(document.getElementById('root')!));
