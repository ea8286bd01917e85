/**
 * Asking the customer for file access: the request, the wait while they decide (polled, as the
 * terminal page does), and what to show when they refuse or the account switched it off.
 */
import { useState } from 'react';
import { useMutation, useQuery } from '@tanstack/react-query';
import { Alert, Group, Loader, Paper, Stack, Text } from '@mantine/core';
import type { ApprovalView } from '@tether/protocol';
import { errorAdvice } from '../common/states.tsx';
import { visibleText } from '../common/visible-text.ts';
import { filesApi } from './files-api.ts';

/** While the customer decides, the page asks each second; a decision shows at once. */
const PENDING_POLL_MS = 1000;

export type FileAction = 'files.read' | 'files.write';

export function useAccessRequest(agentId: string, action: FileAction, ticket?: string) {
  const [approvalId, setApprovalId] = useState<string | null>(null);
  const ask = useMutation({
    mutationFn: (detail?: string) => filesApi.requestAccess(agentId, { action, ticket, detail }),
    onSuccess: (approval) => setApprovalId(approval.id),
  });
  const approval = useQuery({
    queryKey: ['approval', approvalId],
    queryFn: () => filesApi.approval(approvalId!),
    enabled: approvalId !== null,
    refetchInterval: (q) => (q.state.data?.status === 'pending' ? PENDING_POLL_MS : false),
  });
  const current = approval.data ?? (ask.data?.id === approvalId ? ask.data : undefined) ?? null;
  return {
    ask,
    approval: current,
    error: ask.error ?? approval.error,
    reset: () => {
      setApprovalId(null);
      ask.reset();
    },
  };
}

const WORDS: Record<FileAction, string> = {
  'files.read': 'to browse and read files',
  'files.write': 'to change files',
};

const REFUSED: Record<string, string> = {
  denied: 'The customer denied the request.',
  expired: 'Nobody answered in time: the request expired. You can ask again.',
  cancelled: 'The request was cancelled.',
};

/** The wait, or why there is nothing to wait for; nothing once approved. */
export function AccessState({
  action,
  approval,
  error,
  serverName,
}: {
  action: FileAction;
  approval: ApprovalView | null;
  error: unknown;
  serverName: string;
}) {
  if (error)
    return (
      <Alert
        color="red"
        variant="light"
        title="No access"
        role="alert"
        data-testid="access-refused"
      >
        {errorAdvice(error)}
      </Alert>
    );
  if (!approval || approval.status === 'approved' || approval.status === 'used') return null;
  if (approval.status === 'pending')
    return (
      <Paper withBorder p="md" data-testid="access-waiting">
        <Group gap="md" wrap="nowrap">
          <Loader size="sm" aria-hidden />
          <Stack gap={2} role="status" aria-live="polite">
            <Text fw={600}>Waiting for the customer to approve…</Text>
            <Text size="sm" c="dimmed">
              You asked {WORDS[action]} on {serverName}. The request expires at{' '}
              {new Date(approval.expiresAt).toLocaleTimeString()}.
            </Text>
          </Stack>
        </Group>
      </Paper>
    );
  return (
    <Alert color="red" variant="light" title="No access" role="alert" data-testid="access-refused">
      {REFUSED[approval.status] ?? `The request is ${visibleText(approval.status)}.`}
    </Alert>
  );
}
