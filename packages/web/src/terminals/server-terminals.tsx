/** The server page's terminal parts: "Open terminal" for staff, and the server's sessions. */
import { useMutation, useQuery } from '@tanstack/react-query';
import { Anchor, Badge, Button, Group, Paper, Stack, Table, Text, Title } from '@mantine/core';
import { IconTerminal2 } from '@tabler/icons-react';
import { Link, useNavigate, useSearchParams } from 'react-router';
import type { Agent } from '../api/types.ts';
import { STAFF_ROLES, useUser } from '../auth/session.tsx';
import { ErrorState, Loading } from '../common/states.tsx';
import { TimeAgo } from '../common/time-ago.tsx';
import { terminalApi } from './terminal-api.ts';

/** Asks the customer for a terminal, then goes to the page that waits for the answer. */
export function OpenTerminalButton({ agent }: { agent: Agent }) {
  const user = useUser();
  const navigate = useNavigate();
  const [search] = useSearchParams();
  const ticket = search.get('ticket') ?? undefined;
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

export function TerminalSessions({ agent }: { agent: Agent }) {
  const sessions = useQuery({
    queryKey: ['terminals', agent.id],
    queryFn: () => terminalApi.sessions(agent.id),
    refetchInterval: 10_000,
  });
  return (
    <Paper withBorder p="md">
      <Title order={2} size="h4" mb="sm">
        Terminal sessions
      </Title>
      {sessions.isPending && <Loading label="Loading sessions…" />}
      {sessions.isError && <ErrorState title="Cannot list sessions" error={sessions.error} />}
      {sessions.data?.length === 0 && (
        <Text size="sm" c="dimmed">
          No terminal sessions on this server yet.
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
