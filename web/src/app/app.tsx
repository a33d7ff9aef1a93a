import { AppProvider } from './provider.js';
import { AppRoutes } from './router.js';

export function App() {
  return (
    <AppProvider>
      <AppRoutes />
    </AppProvider>
  );
}
