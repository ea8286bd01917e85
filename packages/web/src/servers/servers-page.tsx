/** The servers the caller may see: customers their account's, staff all they are allowed. */
import { useQuery } from '@tanstack/react-query';
import { Anchor, Button, Group, Stack, Table, Text, Title } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { IconPlus } from '@tabler/icons-react';
import { Link } from 'react-router';
import type { Agent } from '../api/types.ts';
import { canAddServers, STAFF_ROLES, useUser } from '../auth/session.tsx';
import { EmptyState, ErrorState, Loading } from '../common/states.tsx';
import { TimeAgo } from '../common/time-ago.tsx';
import { visibleText } from '../common/visible-text.ts';
import { ConsentSettings } from '../consent/consent-settings.tsx';
import { AddServerModal } from './add-server-modal.tsx';
import { agentsQuery } from './queries.ts';
import { ServerStatus } from './server-status.tsx';

export function ServersPage() {
  const user = useUser();
  const agents = useQuery(agentsQuery);
  const [adding, { open, close }] = useDisclosure(false);
  const mayAdd = canAddServers(user);
  const showAccount = STAFF_ROLES.has(user.role);

  const addButton = mayAdd && (
    <Button leftSection={<IconPlus size={16} aria-hidden />} onClick={open}>
      Add a server
    </Button>
  );

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={1} size="h2">
          Servers
        </Title>
        {addButton}
      </Group>
      {agents.isPending && <Loading label="Loading your servers…" />}
      {agents.isError && (
        <ErrorState
          title="Could not load servers"
          error={agents.error}
          onRetry={() => void agents.refetch()}
        />
      )}
      {agents.data?.length === 0 && (
        <EmptyState title="No servers yet" action={addButton}>
          {mayAdd
            ? 'Add a server: Tether gives you a one-line command to run on it, and the server appears here once its agent connects.'
            : 'Servers appear here once a customer or an administrator adds one.'}
        </EmptyState>
      )}
      {agents.data && agents.data.length > 0 && (
        <ServerTable agents={agents.data} showAccount={showAccount} />
      )}
      {user.role === 'customer' && user.accountId && <ConsentSettings accountId={user.accountId} />}
      <AddServerModal opened={adding} onClose={close} />
    </Stack>
  );
}

function ServerTable({ agents, showAccount }: { agents: Agent[]; showAccount: boolean }) {
  return (
    <Table.ScrollContainer minWidth={640}>
      <Table highlightOnHover verticalSpacing="sm" aria-label="Servers">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Name</Table.Th>
            <Table.Th>Status</Table.Th>
            {showAccount && <Table.Th>Account</Table.Th>}
            <Table.Th>System</Table.Th>
            <Table.Th>Agent</Table.Th>
            <Table.Th>Last seen</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {agents.map((agent) => (
            <Table.Tr key={agent.id}>
              <Table.Td>
                <Anchor component={Link} to={`/servers/${encodeURIComponent(agent.id)}`} fw={600}>
                  {visibleText(agent.name)}
                </Anchor>
                {agent.hostname && agent.hostname !== agent.name && (
                  <Text size="xs" c="dimmed">
                    {visibleText(agent.hostname)}
                  </Text>
                )}
              </Table.Td>
              <Table.Td>
                <ServerStatus agent={agent} />
              </Table.Td>
              {showAccount && <Table.Td>{visibleText(agent.accountName)}</Table.Td>}
              <Table.Td>
                {visibleText(agent.os)}/{visibleText(agent.arch)}
              </Table.Td>
              <Table.Td>{visibleText(agent.version)}</Table.Td>
              <Table.Td>
                {agent.online ? <Text size="sm">now</Text> : <TimeAgo iso={agent.lastSeenAt} />}
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}
