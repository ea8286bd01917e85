/** Support requests: customers open and follow theirs; engineers work the live queue. */
import { useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import {
  Anchor,
  Badge,
  Button,
  Group,
  SegmentedControl,
  Stack,
  Table,
  Text,
  Title,
} from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { notifications } from '@mantine/notifications';
import { IconMessagePlus } from '@tabler/icons-react';
import { Link } from 'react-router';
import { api } from '../api/client.ts';
import type { Ticket } from '../api/types.ts';
import { STAFF_ROLES, useUser } from '../auth/session.tsx';
import { EmptyState, ErrorState, errorAdvice, Loading } from '../common/states.tsx';
import { TimeAgo } from '../common/time-ago.tsx';
import { visibleText } from '../common/visible-text.ts';
import { OpenRequestModal } from './open-request-modal.tsx';
import { STATUS_LABELS } from './status-labels.ts';

export function TicketsPage() {
  const user = useUser();
  const staff = STAFF_ROLES.has(user.role);
  const [view, setView] = useState<'open' | 'all'>(staff ? 'open' : 'all');
  const [opening, { open, close }] = useDisclosure(false);
  const tickets = useQuery({
    queryKey: ['tickets', view],
    queryFn: () => api.tickets(view === 'open' ? { status: 'open' } : {}),
  });

  const openButton = user.role === 'customer' && (
    <Button leftSection={<IconMessagePlus size={16} aria-hidden />} onClick={open}>
      Open a support request
    </Button>
  );

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={1} size="h2">
          Support requests
        </Title>
        {openButton}
      </Group>
      {staff && (
        <SegmentedControl
          aria-label="Which requests"
          value={view}
          onChange={(value) => setView(value as 'open' | 'all')}
          data={[
            { value: 'open', label: 'Waiting queue' },
            { value: 'all', label: 'All I may see' },
          ]}
          w="fit-content"
        />
      )}
      {tickets.isPending && <Loading label="Loading support requests…" />}
      {tickets.isError && (
        <ErrorState
          title="Could not load support requests"
          error={tickets.error}
          onRetry={() => void tickets.refetch()}
        />
      )}
      {tickets.data?.tickets.length === 0 && (
        <EmptyState
          title={view === 'open' ? 'Nobody is waiting' : 'No support requests yet'}
          action={openButton}
        >
          {staff
            ? 'New requests appear here the moment a customer opens one.'
            : 'Open a support request when you need help with one of your servers; an engineer takes it and you follow it here.'}
        </EmptyState>
      )}
      {tickets.data && tickets.data.tickets.length > 0 && (
        <TicketTable tickets={tickets.data.tickets} mayTake={staff} />
      )}
      <OpenRequestModal opened={opening} onClose={close} />
    </Stack>
  );
}

function TicketTable({ tickets, mayTake }: { tickets: Ticket[]; mayTake: boolean }) {
  return (
    <Table.ScrollContainer minWidth={720}>
      <Table verticalSpacing="sm" aria-label="Support requests" data-testid="tickets">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Request</Table.Th>
            <Table.Th>Server</Table.Th>
            <Table.Th>Status</Table.Th>
            <Table.Th>Opened</Table.Th>
            <Table.Th>Engineer</Table.Th>
            {mayTake && <Table.Th aria-label="Actions" />}
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {tickets.map((ticket) => (
            <Table.Tr key={ticket.id}>
              <Table.Td>
                <Anchor
                  component={Link}
                  to={`/tickets/${encodeURIComponent(ticket.id)}`}
                  fw={600}
                  size="sm"
                  className="server-text"
                >
                  {visibleText(ticket.title)}
                </Anchor>
                <Text size="xs" c="dimmed" lineClamp={2} className="server-text">
                  {visibleText(ticket.question)}
                </Text>
              </Table.Td>
              <Table.Td>{visibleText(ticket.agent.name ?? 'removed server')}</Table.Td>
              <Table.Td>
                <Badge color={STATUS_LABELS[ticket.status].color} variant="light">
                  {STATUS_LABELS[ticket.status].label}
                </Badge>
              </Table.Td>
              <Table.Td>
                <TimeAgo iso={ticket.createdAt} />
                <Text size="xs" c="dimmed">
                  by {visibleText(ticket.createdBy.name ?? 'someone')}
                </Text>
              </Table.Td>
              <Table.Td>
                {ticket.assignee ? visibleText(ticket.assignee.name ?? 'an engineer') : '—'}
              </Table.Td>
              {mayTake && (
                <Table.Td>{ticket.status === 'open' && <TakeButton ticket={ticket} />}</Table.Td>
              )}
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

function TakeButton({ ticket }: { ticket: Ticket }) {
  const client = useQueryClient();
  const take = useMutation({
    mutationFn: () => api.takeTicket(ticket.id),
    onSuccess: () =>
      notifications.show({ color: 'green', message: `You took "${visibleText(ticket.title)}".` }),
    onError: (error) =>
      notifications.show({ color: 'red', title: 'Not taken', message: errorAdvice(error) }),
    onSettled: () => void client.invalidateQueries({ queryKey: ['tickets'] }),
  });
  return (
    <Button
      size="xs"
      onClick={() => take.mutate()}
      loading={take.isPending}
      aria-label={`Take ${visibleText(ticket.title)}`}
    >
      Take
    </Button>
  );
}
