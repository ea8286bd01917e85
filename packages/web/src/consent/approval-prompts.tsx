/**
 * A customer's consent prompts, wherever they are in the site: an engineer asks for a terminal,
 * file access or a port forward on one of their servers, and they accept or deny before the
 * time runs out.
 */
import { useEffect, useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Alert, Anchor, Button, Group, Paper, Stack, Text, Title } from '@mantine/core';
import { IconShieldLock } from '@tabler/icons-react';
import { Link } from 'react-router';
import { api } from '../api/client.ts';
import type { Approval } from '../api/types.ts';
import { useUser } from '../auth/session.tsx';
import { errorAdvice } from '../common/states.tsx';
import { visibleText } from '../common/visible-text.ts';
import { useTopicEvents } from '../live/live-provider.tsx';
import { agentsQuery } from '../servers/queries.ts';
import { formatTimeLeft, secondsLeft } from './time-left.ts';

const PENDING_KEY = ['approvals', 'pending'] as const;
/** Requests wait minutes for an answer; a 5 s poll is the safety net under the live topic. */
const PENDING_POLL_MS = 5_000;
/** What each action asks for, as the prompt's title finishes the sentence "erin asks …". */
const ASKS: Record<string, string> = {
  terminal: 'for a terminal',
  'files.read': 'to browse and read files',
  'files.write': 'to change files (save, upload, rename, delete)',
  forward: 'to forward a port from the server',
};

export function ApprovalPrompts() {
  const user = useUser();
  if (user.role !== 'customer') return null;
  return <CustomerPrompts />;
}

function CustomerPrompts() {
  const client = useQueryClient();
  // A live event can beat the first load (whose older answer would then hide it) or arrive
  // while the socket reconnects; so each event also refetches, and a slow poll backs both up.
  const pending = useQuery({
    queryKey: PENDING_KEY,
    queryFn: () => api.pendingApprovals(),
    refetchInterval: PENDING_POLL_MS,
  });

  // Each change arrives whole: keep it while pending, drop it once decided, expired or used.
  useTopicEvents('approvals', (event) => {
    const approval = (event as { approval?: Approval } | null)?.approval;
    if (!approval?.id) return;
    client.setQueryData<Approval[]>(PENDING_KEY, (current = []) => {
      const others = current.filter((a) => a.id !== approval.id);
      return approval.status === 'pending' ? [approval, ...others] : others;
    });
    void client.invalidateQueries({ queryKey: PENDING_KEY });
  });

  const now = useSecondTick(pending.data?.length ?? 0);
  const shown = (pending.data ?? []).filter((a) => secondsLeft(a.expiresAt, now) > 0);
  if (shown.length === 0) return null;

  return (
    <Stack gap="sm" className="approval-prompts" data-testid="approval-prompts">
      {shown.map((approval) => (
        <Prompt key={approval.id} approval={approval} now={now} />
      ))}
    </Stack>
  );
}

function Prompt({ approval, now }: { approval: Approval; now: number }) {
  const client = useQueryClient();
  const agents = useQuery(agentsQuery);
  const server = agents.data?.find((a) => a.id === approval.agentId);
  const decide = useMutation({
    mutationFn: (approve: boolean) => api.decideApproval(approval.id, approve),
    onSuccess: (decided) =>
      client.setQueryData<Approval[]>(PENDING_KEY, (current = []) =>
        current.filter((a) => a.id !== decided.id),
      ),
  });
  const asks = ASKS[approval.action] ?? `for ${visibleText(approval.action)}`;

  return (
    <Paper
      withBorder
      shadow="md"
      p="md"
      role="alertdialog"
      aria-labelledby={`approval-${approval.id}`}
      data-testid="approval-prompt"
    >
      <Group gap="xs" mb={4} wrap="nowrap">
        <IconShieldLock size={20} aria-hidden />
        <Title order={2} size="h5" id={`approval-${approval.id}`}>
          {visibleText(approval.requesterName || 'An engineer')} asks {asks}
        </Title>
      </Group>
      <Text size="sm">
        on{' '}
        <Anchor component={Link} to={`/servers/${encodeURIComponent(approval.agentId)}`}>
          {server ? visibleText(server.name) : 'your server'}
        </Anchor>
        {approval.ticketId && (
          <>
            {' '}
            for{' '}
            <Anchor component={Link} to={`/tickets/${encodeURIComponent(approval.ticketId)}`}>
              this support request
            </Anchor>
          </>
        )}
        .
      </Text>
      <Text size="sm" c="dimmed" aria-live="off" data-testid="approval-time-left">
        {formatTimeLeft(secondsLeft(approval.expiresAt, now))}
      </Text>
      {decide.isError && (
        <Alert color="red" variant="light" mt="xs" title="Not recorded">
          {errorAdvice(decide.error)}
        </Alert>
      )}
      <Group justify="flex-end" gap="sm" mt="sm">
        <Button
          variant="default"
          size="xs"
          onClick={() => decide.mutate(false)}
          loading={decide.isPending && decide.variables === false}
          disabled={decide.isPending}
        >
          Deny
        </Button>
        <Button
          size="xs"
          onClick={() => decide.mutate(true)}
          loading={decide.isPending && decide.variables === true}
          disabled={decide.isPending}
        >
          Accept
        </Button>
      </Group>
    </Paper>
  );
}

/** The current time, redrawn each second while there is something counting down. */
function useSecondTick(active: number): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (active === 0) return;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [active]);
  return now;
}
