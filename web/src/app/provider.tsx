import { QueryClientProvider } from '@tanstack/react-query';
import { type ReactNode, useState } from 'react';
import { getToken, setToken } from '../lib/api-client.js';
import { createQueryClient } from '../lib/query.js';
import { TokenForm } from './token-form.js';

/**
 * Query client and the admin-token gate: the first 401 (SCIMTAP_ADMIN_TOKEN is set) replaces the page with a
 * token form; the token is kept in sessionStorage and every request sends it as a bearer token.
 */
export function AppProvider({ children }: { children: ReactNode }) {
  const [needsToken, setNeedsToken] = useState(false);
  const [rejected, setRejected] = useState(false);
  const [queryClient] = useState(() =>
    createQueryClient(() => {
      setRejected(getToken() !== null);
      setNeedsToken(true);
    }),
  );
  const submit = (token: string) => {
    setToken(token);
    setNeedsToken(false);
    setRejected(false);
    void queryClient.resetQueries();
  };
  return (
    <QueryClientProvider client={queryClient}>
      {needsToken ? <TokenForm rejected={rejected} onSubmit={submit} /> : children}
    </QueryClientProvider>
  );
}
