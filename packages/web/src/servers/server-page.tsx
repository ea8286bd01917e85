/** One server: its details, and what happens on it as it happens. */
import type { ReactNode } from 'react';
import { useQuery } from '@tanstack/react-query';
import {
  Anchor,
  Breadcrumbs,
  Button,
  Group,
  Paper,
  SimpleGrid,
  Stack,
  Text,
  Title,
} from '@mantine/core';
import { Link, useParams, useSearchParams } from 'react-router';
import type { Agent } from '../api/types.ts';
import { ErrorState, Loading } from '../common/states.tsx';
import { TimeAgo } from '../common/time-ago.tsx';
import { visibleText } from '../common/visible-text.ts';
import { ActivityFeed } from '../audit/activity-feed.tsx';
import { agentQuery } from './queries.ts';
import { ServerStatus } from './server-status.tsx';
import { OpenTerminalButton, TerminalSessions } from '../terminals/server-terminals.tsx';
import { FilesButton } from '../files/files-button.tsx';

export function ServerPage() {
  const agentId = useParams().agentId!;
  const agent = useQuery(agentQuery(agentId));
  // A link from a support request carries it, so the terminal is asked for that request.
  const ticket = useSearchParams()[0].get('ticket') ?? undefined;

  return (
    <Stack>
      <Breadcrumbs>
        <Anchor component={Link} to="/servers">
          Servers
        </Anchor>
        <Text>{agent.data ? visibleText(agent.data.name) : 'Server'}</Text>
      </Breadcrumbs>
      {agent.isPending && <Loading label="Loading the server…" />}
      {agent.isError && (
        <ErrorState
          title="Cannot show this server"
          error={agent.error}
          onRetry={() => void agent.refetch()}
          action={
            <Button size="xs" variant="default" component={Link} to="/servers">
              Back to servers
            </Button>
          }
        />
      )}
      {agent.data && (
        <>
          <Group justify="space-between">
            <Group gap="md">
              <Title order={1} size="h2" className="server-text">
                {visibleText(agent.data.name)}
              </Title>
              <ServerStatus agent={agent.data} />
            </Group>
            <Group gap="sm" align="flex-start">
              <FilesButton agent={agent.data} />
              <OpenTerminalButton agent={agent.data} ticket={ticket} />
            </Group>
          </Group>
          <ServerFacts agent={agent.data} />
          <TerminalSessions filter={{ agent: agent.data.id }} />
          <ActivityFeed agent={agent.data} />
        </>
      )}
    </Stack>
  );
}

function ServerFacts({ agent }: { agent: Agent }) {
  const facts: [string, ReactNode][] = [
    ['Account', visibleText(agent.accountName)],
    ['Hostname', agent.hostname ? visibleText(agent.hostname) : 'not reported'],
    ['System', `${visibleText(agent.os)}/${visibleText(agent.arch)}`],
    ['Agent version', visibleText(agent.version)],
    [
      agent.online ? 'Connected' : 'Last seen',
      <TimeAgo iso={agent.online ? agent.connectedAt : agent.lastSeenAt} />,
    ],
    ['Enrolled', <TimeAgo iso={agent.enrolledAt} />],
  ];
  if (agent.revokedAt) facts.push(['Revoked', <TimeAgo iso={agent.revokedAt} />]);

  return (
    <Paper withBorder p="md">
      <SimpleGrid cols={{ base: 1, xs: 2, md: 3 }} spacing="md" component="dl" m={0}>
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
    </Paper>
  );
}
