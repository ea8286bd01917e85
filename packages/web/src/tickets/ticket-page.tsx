/** One support request: the question, who works it, its summary once closed, chat and activity. */
import type { ReactNode } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import {
  Anchor,
  Badge,
  Breadcrumbs,
  Button,
  Code,
  Group,
  Paper,
  SimpleGrid,
  Stack,
  Table,
  Text,
  Title,
} from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { Link, useParams } from 'react-router';
import { api } from '../api/client.ts';
import type { TicketDetail, TicketSummary } from '../api/types.ts';
import { ActivityFeed } from '../audit/activity-feed.tsx';
import { STAFF_ROLES, useUser } from '../auth/session.tsx';
import { ChatRoom } from '../chat/chat-room.tsx';
import { ConfirmButton } from '../common/confirm-button.tsx';
import { ErrorState, errorAdvice, Loading } from '../common/states.tsx';
import { TimeAgo } from '../common/time-ago.tsx';
import { visibleText } from '../common/visible-text.ts';
import { formatDurationMs } from '../consent/time-left.ts';
import { agentQuery } from '../servers/queries.ts';
import { OpenTerminalButton, TerminalSessions } from '../terminals/server-terminals.tsx';
import { STATUS_LABELS } from './status-labels.ts';
import { FilesButton } from '../files/files-button.tsx';

export function TicketPage() {
  const id = useParams().id!;
  const ticket = useQuery({
    queryKey: ['tickets', 'detail', id],
    queryFn: () => api.ticket(id),
  });

  return (
    <Stack>
      <Breadcrumbs>
        <Anchor component={Link} to="/tickets">
          Support requests
        </Anchor>
        <Text>{ticket.data ? visibleText(ticket.data.title) : 'Request'}</Text>
      </Breadcrumbs>
      {ticket.isPending && <Loading label="Loading the support request…" />}
      {ticket.isError && (
        <ErrorState
          title="Cannot show this support request"
          error={ticket.error}
          onRetry={() => void ticket.refetch()}
          action={
            <Button size="xs" variant="default" component={Link} to="/tickets">
              Back to support requests
            </Button>
          }
        />
      )}
      {ticket.data && <TicketView ticket={ticket.data} />}
    </Stack>
  );
}

function TicketView({ ticket }: { ticket: TicketDetail }) {
  const user = useUser();
  const client = useQueryClient();
  const agent = useQuery({ ...agentQuery(ticket.agent.id), enabled: ticket.agent.name !== null });
  const refresh = () => void client.invalidateQueries({ queryKey: ['tickets'] });
  const take = useMutation({
    mutationFn: () => api.takeTicket(ticket.id),
    onSuccess: () => notifications.show({ color: 'green', message: 'You took this request.' }),
    onError: (error) =>
      notifications.show({ color: 'red', title: 'Not taken', message: errorAdvice(error) }),
    onSettled: refresh,
  });
  const close = useMutation({
    mutationFn: () => api.closeTicket(ticket.id),
    onSuccess: () => notifications.show({ color: 'green', message: 'The request is closed.' }),
    onError: (error) =>
      notifications.show({ color: 'red', title: 'Not closed', message: errorAdvice(error) }),
    onSettled: refresh,
  });

  const mayTake = STAFF_ROLES.has(user.role) && ticket.status === 'open';
  const mayOpenTerminal =
    ticket.status === 'taken' && ticket.assignee?.id === user.id && agent.data !== undefined;
  const mayClose =
    ticket.status !== 'closed' && (ticket.assignee?.id === user.id || user.role === 'admin');
  const status = STATUS_LABELS[ticket.status];

  const facts: [string, ReactNode][] = [
    [
      'Server',
      ticket.agent.name === null ? (
        'removed server'
      ) : (
        <Anchor component={Link} to={`/servers/${encodeURIComponent(ticket.agent.id)}`}>
          {visibleText(ticket.agent.name)}
        </Anchor>
      ),
    ],
    [
      'Engineer',
      ticket.assignee ? visibleText(ticket.assignee.name ?? 'an engineer') : 'nobody yet',
    ],
    [
      'Opened',
      <>
        <TimeAgo iso={ticket.createdAt} /> by {visibleText(ticket.createdBy.name ?? 'someone')}
      </>,
    ],
  ];
  if (ticket.closedAt)
    facts.push([
      'Closed',
      <>
        <TimeAgo iso={ticket.closedAt} />
        {ticket.closedBy ? ` by ${visibleText(ticket.closedBy.name ?? 'someone')}` : ''}
      </>,
    ]);

  return (
    <>
      <Group justify="space-between" align="flex-start">
        <Group gap="md">
          <Title order={1} size="h2" className="server-text">
            {visibleText(ticket.title)}
          </Title>
          <Badge color={status.color} variant="light" size="lg" data-testid="ticket-status">
            {status.label}
          </Badge>
        </Group>
        <Group gap="sm">
          {mayTake && (
            <Button onClick={() => take.mutate()} loading={take.isPending}>
              Take
            </Button>
          )}
          {agent.data && <FilesButton agent={agent.data} ticket={ticket.id} />}
          {mayOpenTerminal && agent.data && (
            <OpenTerminalButton agent={agent.data} ticket={ticket.id} />
          )}
          {mayClose && (
            <ConfirmButton
              color="gray"
              loading={close.isPending}
              title="Close this support request?"
              message="The request closes for the customer and for you, and its summary of terminal sessions and commands is written. It cannot be taken again."
              confirmLabel="Close request"
              confirmColor="blue"
              onConfirm={() => close.mutate()}
            >
              Close
            </ConfirmButton>
          )}
        </Group>
      </Group>
      <Paper withBorder p="md">
        <SimpleGrid cols={{ base: 1, xs: 2, md: 4 }} spacing="md" component="dl" m={0}>
          {facts.map(([label, value]) => (
            <div key={label}>
              <Text component="dt" size="xs" c="dimmed" tt="uppercase" fw={600}>
                {label}
              </Text>
              <Text component="dd" size="sm" m={0} className="server-text">
                {value}
              </Text>
            </div>
          ))}
        </SimpleGrid>
        <Text size="xs" c="dimmed" tt="uppercase" fw={600} mt="md">
          Question
        </Text>
        <Text size="sm" className="server-text" data-testid="ticket-question">
          {visibleText(ticket.question)}
        </Text>
      </Paper>
      {ticket.summary && <SummaryView summary={ticket.summary} />}
      {ticket.agent.name !== null && <ChatRoom agentId={ticket.agent.id} ticketId={ticket.id} />}
      <TerminalSessions filter={{ ticket: ticket.id }} />
      {agent.data && <ActivityFeed agent={agent.data} />}
    </>
  );
}

function SummaryView({ summary }: { summary: TicketSummary }) {
  const { totals } = summary;
  return (
    <Paper
      withBorder
      p="md"
      component="section"
      aria-labelledby="summary-title"
      data-testid="summary"
    >
      <Title order={2} size="h4" id="summary-title" mb="xs">
        Summary
      </Title>
      <Text size="sm" mb="sm">
        Worked {formatDurationMs(summary.workedMs)}; {totals.sessions} terminal session
        {totals.sessions === 1 ? '' : 's'} ({formatDurationMs(totals.terminalMs)}),{' '}
        {totals.commands} command{totals.commands === 1 ? '' : 's'}
        {totals.failedCommands > 0 ? `, ${totals.failedCommands} failed` : ''}.
        {summary.truncated ? ' Only the first entries are listed.' : ''}
      </Text>
      {summary.sessions.length > 0 && (
        <Table.ScrollContainer minWidth={560}>
          <Table aria-label="Summary of terminal sessions" mb="md">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Session</Table.Th>
                <Table.Th>Engineer</Table.Th>
                <Table.Th>Started</Table.Th>
                <Table.Th>Duration</Table.Th>
                <Table.Th>Ended</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {summary.sessions.map((session) => (
                <Table.Tr key={session.id}>
                  <Table.Td>
                    <Anchor component={Link} to={`/terminals/${encodeURIComponent(session.id)}`}>
                      Terminal {session.id.slice(0, 8)}
                    </Anchor>
                  </Table.Td>
                  <Table.Td>{visibleText(session.engineer.name ?? 'an engineer')}</Table.Td>
                  <Table.Td>
                    <TimeAgo iso={session.startedAt} />
                  </Table.Td>
                  <Table.Td>
                    {session.durationMs === null
                      ? 'still open'
                      : formatDurationMs(session.durationMs)}
                  </Table.Td>
                  <Table.Td>
                    {session.endReason
                      ? visibleText(session.endReason)
                      : visibleText(session.status)}
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      {summary.commands.length > 0 ? (
        <Table.ScrollContainer minWidth={560}>
          <Table aria-label="Commands">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Command</Table.Th>
                <Table.Th>Result</Table.Th>
                <Table.Th>Duration</Table.Th>
                <Table.Th>When</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {summary.commands.map((command) => (
                <Table.Tr key={command.auditId}>
                  <Table.Td>
                    <Code className="server-text">{visibleText(command.command)}</Code>
                  </Table.Td>
                  <Table.Td>
                    <Badge
                      color={command.ok && command.exitCode === 0 ? 'green' : 'red'}
                      variant="light"
                    >
                      {command.signal
                        ? `signal ${visibleText(command.signal)}`
                        : command.exitCode === null
                          ? 'failed'
                          : `exit ${command.exitCode}`}
                    </Badge>
                  </Table.Td>
                  <Table.Td>{formatDurationMs(command.durationMs)}</Table.Td>
                  <Table.Td>
                    <TimeAgo iso={command.time} />
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      ) : (
        <Text size="sm" c="dimmed">
          No commands were run for this request.
        </Text>
      )}
    </Paper>
  );
}
