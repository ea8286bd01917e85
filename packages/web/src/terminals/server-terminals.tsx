/** "Open terminal" for staff (on a server's page and a ticket's), and a list of sessions. */
import { useMutation, useQuery } from '@tanstack/react-query';
import { Anchor, Badge, Button, Group, Paper, Stack, Table, Text, Title } from '@mantine/core';
import { IconTerminal2 } from '@tabler/icons-react';
import { Link, useNavigate } from 'react-router';
import type { Agent } from '../api/types.ts';
import { STAFF_ROLES, useUser } from '../auth/session.tsx';
import { ErrorState, Loading } from '../common/states.tsx';
import { TimeAgo } from '../common/time-ago.tsx';
import { terminalApi, type SessionFilter } from './terminal-api.ts';

/**
 * Asks the customer for a terminal, then goes to the page that waits for the answer. With a
 * ticket, the approval is bound to it and the session shows in the ticket's summary.
 */
export function OpenTerminalButton({ agent, ticket }: { agent: Agent; ticket?: string }) {
  const user = useUser();
  const navigate = useNavigate();
  const request = useMutation({
    // The terminal page fits the screen and sends its real size when it connects.
    mutationFn: () => terminalApi.request(agent.id, { ticket, cols: 80, rows: 24 }),
    onSuccess: (approval) => {
      const q = new URLSearchParams({ agent: agent.id, approval: approval.id });
      if (ticket) q.set('ticket', ticket);
      void navigate(`/terminals/new?${q.toString()}`);
    },
  });
  if (!STAFF_ROLES.has(user.role)) return null;
  return (
    <Stack gap={4} align="flex-end">
      <Button
        leftSection={<IconTerminal2 size={16} aria-hidden />}
        onClick={() => request.mutate()}
        loading={request.isPending}
        disabled={!agent.online || agent.revokedAt !== null}
      >
        Open terminal
      </Button>
      {request.isError && (
        <Text size="xs" c="red" role="alert">
          {request.error.message}
        </Text>
      )}
    </Stack>
  );
}

/** Sessions, newest first; the live `terminals` topic refreshes the list as they start and end. */
export function TerminalSessions({ filter }: { filter: SessionFilter }) {
  const sessions = useQuery({
    queryKey: ['terminals', filter],
    queryFn: () => terminalApi.sessions(filter),
    // The safety net under the live topic.
    refetchInterval: 30_000,
  });
  const empty = 'agent' in filter ? 'on this server' : 'for this request';
  return (
    <Paper withBorder p="md">
      <Title order={2} size="h4" mb="sm">
        Terminal sessions
      </Title>
      {sessions.isPending && <Loading label="Loading sessions…" />}
      {sessions.isError && <ErrorState title="Cannot list sessions" error={sessions.error} />}
      {sessions.data?.length === 0 && (
        <Text size="sm" c="dimmed">
          No terminal sessions {empty} yet.
        </Text>
      )}
      {sessions.data && sessions.data.length > 0 && (
        <Table.ScrollContainer minWidth={560}>
          <Table aria-label="Terminal sessions" verticalSpacing="xs">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Started</Table.Th>
                <Table.Th>State</Table.Th>
                <Table.Th>Ended</Table.Th>
                <Table.Th />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {sessions.data.map((s) => (
                <Table.Tr key={s.id}>
                  <Table.Td>
                    <TimeAgo iso={s.startedAt} />
                  </Table.Td>
                  <Table.Td>
                    <Badge
                      variant="light"
                      color={
                        s.status === 'live' ? 'green' : s.status === 'ended' ? 'gray' : 'orange'
                      }
                    >
                      {s.status === 'live'
                        ? 'Live'
                        : s.status === 'ended'
                          ? 'Ended'
                          : 'Interrupted'}
                    </Badge>
                  </Table.Td>
                  <Table.Td>{s.endedAt ? <TimeAgo iso={s.endedAt} /> : '—'}</Table.Td>
                  <Table.Td>
                    <Group gap="sm" justify="flex-end">
                      {s.status === 'live' && (
                        <Anchor
                          component={Link}
                          to={`/terminals/${encodeURIComponent(s.id)}`}
                          size="sm"
                        >
                          Watch live
                        </Anchor>
                      )}
                      <Anchor
                        component={Link}
                        to={`/terminals/${encodeURIComponent(s.id)}/playback`}
                        size="sm"
                      >
                        Playback
                      </Anchor>
                    </Group>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
    </Paper>
  );
}
