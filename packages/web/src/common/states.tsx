/** Loading, error and empty states that say what is happening and what to do next. */
import type { ReactNode } from 'react';
import { Alert, Button, Center, Group, Loader, Paper, Stack, Text, Title } from '@mantine/core';
import { IconAlertTriangle } from '@tabler/icons-react';
import { ApiError, NETWORK_ERROR } from '../api/client.ts';

/** Failures that the same request will meet again. */
const FINAL_CODES = new Set(['not_found', 'forbidden', 'unauthorized']);

export function Loading({ label }: { label: string }) {
  return (
    <Group gap="sm" py="xl" justify="center" role="status" aria-live="polite">
      <Loader size="sm" aria-hidden />
      <Text c="dimmed">{label}</Text>
    </Group>
  );
}

export function FullPageLoader({ label }: { label: string }) {
  return (
    <Center h="100vh">
      <Loading label={label} />
    </Center>
  );
}

/** An error with the next step: retry when it might pass, otherwise what to check. */
export function ErrorState({
  title,
  error,
  onRetry,
  action,
}: {
  title: string;
  error: unknown;
  onRetry?: () => void;
  /** Where to go instead, for failures that trying again will not fix. */
  action?: ReactNode;
}) {
  const final = error instanceof ApiError && FINAL_CODES.has(error.code);
  return (
    <Alert
      color="red"
      variant="light"
      title={title}
      icon={<IconAlertTriangle aria-hidden />}
      role="alert"
      my="md"
    >
      <Stack gap="sm" align="flex-start">
        <Text size="sm">{errorAdvice(error)}</Text>
        <Group gap="xs">
          {onRetry && !final && (
            <Button size="xs" variant="light" color="red" onClick={onRetry}>
              Try again
            </Button>
          )}
          {action}
        </Group>
      </Stack>
    </Alert>
  );
}

export function EmptyState({
  title,
  children,
  action,
}: {
  title: string;
  children: ReactNode;
  action?: ReactNode;
}) {
  return (
    <Paper withBorder p="xl" radius="md">
      <Stack align="center" gap="sm" ta="center">
        <Title order={3} size="h4">
          {title}
        </Title>
        <Text c="dimmed" maw={460}>
          {children}
        </Text>
        {action}
      </Stack>
    </Paper>
  );
}

/** One sentence a person can act on, from whatever went wrong. */
export function errorAdvice(error: unknown): string {
  if (!(error instanceof ApiError))
    return 'Something went wrong in this page. Reload it to try again.';
  switch (error.code) {
    case NETWORK_ERROR:
      return 'The Tether server cannot be reached. Check your connection; this page will try again.';
    case 'not_found':
      return 'It does not exist, or your account may not see it. Check the link or go back to the list.';
    case 'forbidden':
      return 'Your role may not do this. Ask an administrator if you need it.';
    case 'rate_limited':
      return `${capitalize(error.message)}. Wait a few minutes, then try again.`;
    case 'unauthorized':
      return 'Your session has ended. Sign in again.';
    default:
      return `${capitalize(error.message)}.`;
  }
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
