/** Who is signed in: the `me` query, the gate in front of every page, and signing out. */
import type { ReactNode } from 'react';
import { Navigate, useLocation, useNavigate } from 'react-router';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { notifications } from '@mantine/notifications';
import { api, ApiError } from '../api/client.ts';
import type { User } from '../api/types.ts';
import { ME_KEY } from '../query-client.ts';
import { ErrorState, FullPageLoader } from '../common/states.tsx';

/** The signed-in user; `null` once the endpoint has said nobody is. */
export function useMe() {
  return useQuery({
    queryKey: ME_KEY,
    queryFn: async (): Promise<User | null> => {
      try {
        return await api.me();
      } catch (error) {
        if (error instanceof ApiError && error.code === 'unauthorized') return null;
        throw error;
      }
    },
    staleTime: 5 * 60_000,
  });
}

/** The signed-in user, for components under RequireSignIn. */
export function useUser(): User {
  const { data } = useMe();
  if (!data) throw new Error('useUser outside RequireSignIn');
  return data;
}

export function RequireSignIn({ children }: { children: ReactNode }) {
  const me = useMe();
  const location = useLocation();

  if (me.isPending) return <FullPageLoader label="Checking your session…" />;
  if (me.isError && me.data === undefined)
    return (
      <ErrorState
        title="Cannot check your session"
        error={me.error}
        onRetry={() => void me.refetch()}
      />
    );
  if (!me.data) return <Navigate to="/sign-in" replace state={{ from: location.pathname }} />;
  return children;
}

export function useSignOut() {
  const client = useQueryClient();
  const navigate = useNavigate();
  return useMutation({
    mutationFn: () => api.logout(),
    onSettled: (_data, error) => {
      if (error && !(error instanceof ApiError && error.code === 'unauthorized')) {
        notifications.show({
          color: 'red',
          title: 'Sign-out failed',
          message: `${error.message}. Your session may still be open; try again.`,
        });
        return;
      }
      client.clear();
      client.setQueryData(ME_KEY, null);
      navigate('/sign-in', { replace: true });
    },
  });
}

export const STAFF_ROLES = new Set(['admin', 'manager', 'engineer']);

/** Customers add servers to their own account; admins to any. */
export function canAddServers(user: User): boolean {
  return user.role === 'admin' || (user.role === 'customer' && user.accountId !== null);
}
