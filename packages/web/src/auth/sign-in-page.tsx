/** The sign-in form: username and password; the endpoint sets an HttpOnly session cookie. */
import { useState, type FormEvent } from 'react';
import { Navigate, useLocation, useNavigate } from 'react-router';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import {
  Alert,
  Button,
  Center,
  Paper,
  PasswordInput,
  Stack,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { api, ApiError } from '../api/client.ts';
import { ME_KEY } from '../query-client.ts';
import { errorAdvice, FullPageLoader } from '../common/states.tsx';
import { useMe } from './session.tsx';

export function SignInPage() {
  const me = useMe();
  const client = useQueryClient();
  const navigate = useNavigate();
  const from = (useLocation().state as { from?: string } | null)?.from;
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');

  const signIn = useMutation({
    mutationFn: () => api.login(username.trim(), password),
    onSuccess: (user) => {
      client.setQueryData(ME_KEY, user);
      navigate(from && from.startsWith('/') ? from : '/servers', { replace: true });
    },
  });

  if (me.isPending) return <FullPageLoader label="Checking your session…" />;
  if (me.data) return <Navigate to="/servers" replace />;

  const submit = (event: FormEvent) => {
    event.preventDefault();
    signIn.mutate();
  };

  return (
    <Center mih="100vh" p="md" component="main">
      <Paper withBorder shadow="md" p="xl" radius="md" w="100%" maw={400}>
        <form onSubmit={submit} noValidate>
          <Stack>
            <div>
              <Title order={1} size="h2">
                Sign in to Tether
              </Title>
              <Text c="dimmed" size="sm" mt={4}>
                Remote support, with you in control.
              </Text>
            </div>
            {signIn.isError && (
              <Alert color="red" variant="light" role="alert" title="Not signed in">
                {signInAdvice(signIn.error)}
              </Alert>
            )}
            <TextInput
              label="Username"
              name="username"
              autoComplete="username"
              required
              data-autofocus
              autoFocus
              value={username}
              onChange={(e) => setUsername(e.currentTarget.value)}
            />
            <PasswordInput
              label="Password"
              name="password"
              autoComplete="current-password"
              required
              value={password}
              onChange={(e) => setPassword(e.currentTarget.value)}
            />
            <Button
              type="submit"
              loading={signIn.isPending}
              disabled={!username.trim() || !password}
              fullWidth
            >
              Sign in
            </Button>
          </Stack>
        </form>
      </Paper>
    </Center>
  );
}

function signInAdvice(error: unknown): string {
  if (error instanceof ApiError && error.code === 'unauthorized')
    return 'Wrong username or password. Check both and try again; your administrator can reset the password.';
  return errorAdvice(error);
}
