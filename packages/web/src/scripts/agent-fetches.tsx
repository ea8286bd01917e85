/**
 * Which servers ran which version. Agents do not run scripts yet (a later issue builds that), so
 * the section says so and shows what the record does hold: the agent proxy's audit events
 * (T3507I) for fetches of this package's versions, as far as the caller may see the audit log.
 */
import { useQuery } from '@tanstack/react-query';
import { Alert, Anchor, Stack, Table, Text } from '@mantine/core';
import { IconInfoCircle } from '@tabler/icons-react';
import { Link } from 'react-router';
import type { AuditEvent } from '../api/types.ts';
import { EmptyState, ErrorState, Loading } from '../common/states.tsx';
import { TimeAgo } from '../common/time-ago.tsx';
import { visibleText } from '../common/visible-text.ts';
import { agentsQuery } from '../servers/queries.ts';
import { scriptHref } from './script-paths.ts';
import { scriptsApi, type PackageDetail } from './scripts-api.ts';

interface Fetch {
  id: string;
  time: string;
  agentId: string;
  version: string;
}

export function AgentFetches({ pkg }: { pkg: PackageDetail }) {
  const events = useQuery({
    queryKey: ['audit', 'agent-fetches'],
    queryFn: scriptsApi.agentFetches,
  });
  const agents = useQuery(agentsQuery);
  const fetches = fetchesOf(pkg, events.data ?? []);
  const agentName = (id: string) => agents.data?.find((a) => a.id === id)?.name;

  return (
    <Stack gap="sm">
      <Alert
        color="blue"
        variant="light"
        icon={<IconInfoCircle aria-hidden />}
        title="Agents do not run scripts yet"
      >
        Running a script on a server comes with a later release; each run will be listed here from
        the audit log. Until then this lists the servers whose agent fetched a version of {pkg.name}{' '}
        through Tether.
      </Alert>
      {events.isPending && <Loading label="Loading fetches from the audit log…" />}
      {events.isError && (
        <ErrorState
          title="Could not read the audit log"
          error={events.error}
          onRetry={() => void events.refetch()}
        />
      )}
      {events.isSuccess && fetches.length === 0 && (
        <EmptyState title="No server has fetched this script">
          No agent fetch of any version of {pkg.name} is in the audit events you may see. Customers
          see their own servers; admins see every server.
        </EmptyState>
      )}
      {fetches.length > 0 && (
        <Table.ScrollContainer minWidth={480}>
          <Table verticalSpacing="xs" aria-label="Fetches by servers" data-testid="agent-fetches">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Server</Table.Th>
                <Table.Th>Version</Table.Th>
                <Table.Th>Fetched</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {fetches.map((fetch) => (
                <Table.Tr key={`${fetch.id}-${fetch.version}`}>
                  <Table.Td>
                    <Anchor
                      component={Link}
                      to={`/servers/${encodeURIComponent(fetch.agentId)}`}
                      size="sm"
                    >
                      {visibleText(agentName(fetch.agentId) ?? fetch.agentId)}
                    </Anchor>
                  </Table.Td>
                  <Table.Td>
                    <Anchor
                      component={Link}
                      to={scriptHref(pkg.name, fetch.version)}
                      ff="monospace"
                      size="sm"
                    >
                      {fetch.version}
                    </Anchor>
                  </Table.Td>
                  <Table.Td>
                    <TimeAgo iso={fetch.time} />
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      {events.isSuccess && events.data.length > 0 && (
        <Text size="xs" c="dimmed">
          {events.data.length === 1
            ? 'Searched the one agent fetch in the audit log you may see.'
            : `Searched the ${events.data.length} most recent agent fetches in the audit log you may see.`}
        </Text>
      )}
    </Stack>
  );
}

/** The events whose roots include one of the package's version trees, one row per version. */
function fetchesOf(pkg: PackageDetail, events: AuditEvent[]): Fetch[] {
  const versionOf = new Map(pkg.versions.map((v) => [v.tree, v.version]));
  return events.flatMap((event) => {
    const roots = Array.isArray(event.params.roots) ? event.params.roots : [];
    if (!event.agentId) return [];
    return roots.flatMap((root) => {
      const version = typeof root === 'string' ? versionOf.get(root) : undefined;
      return version ? [{ id: event.id, time: event.time, agentId: event.agentId!, version }] : [];
    });
  });
}
