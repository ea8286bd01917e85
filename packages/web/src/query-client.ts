/** Server state: one QueryClient; an expired session anywhere sends the user to sign in. */
import { MutationCache, QueryCache, QueryClient } from '@tanstack/react-query';
import { ApiError, NETWORK_ERROR } from './api/client.ts';

export const ME_KEY = ['me'] as const;
const NETWORK_RETRIES = 2;

export function createQueryClient(): QueryClient {
  const client: QueryClient = new QueryClient({
    queryCache: new QueryCache({ onError: (error) => signedOutOn(error) }),
    mutationCache: new MutationCache({ onError: (error) => signedOutOn(error) }),
    defaultOptions: {
      queries: {
        // Only failures that might pass on their own are retried; a 404 or 403 will not.
        retry: (count, error) =>
          error instanceof ApiError && error.code === NETWORK_ERROR && count < NETWORK_RETRIES,
        refetchOnWindowFocus: true,
      },
    },
  });

  function signedOutOn(error: unknown): void {
    if (error instanceof ApiError && error.code === 'unauthorized')
      client.setQueryData(ME_KEY, null);
  }
  return client;
}
