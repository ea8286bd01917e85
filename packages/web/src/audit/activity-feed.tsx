/** What happens on one server: the audit history, with new events added live as they arrive. */
import { useMemo, useState } from 'react';
import { useInfiniteQuery } from '@tanstack/react-query';
import {
  Badge,
  Button,
  Code,
  Group,
  Paper,
  Stack,
  Switch,
  Text,
  Timeline,
  Title,
} from '@mantine/core';
import { IconAlertTriangle, IconPoint, IconTerminal2 } from '@tabler/icons-react';
import { api } from '../api/client.ts';
import type { Agent, AuditEvent } from '../api/types.ts';
import { EmptyState, ErrorState, Loading } from '../common/states.tsx';
import { TimeAgo } from '../common/time-ago.tsx';
import { visibleText } from '../common/visible-text.ts';
import { useAuditEvents, useLive } from '../live/live-provider.tsx';
import { commandOf, describeEvent, formatDuration, outcomeOf, VIEW_CODES } from './phrases.ts';

const PAGE_SIZE = 50;
const COMMAND_STARTED = 'T3001I';
/** Live events kept in memory beyond the loaded history; older ones are a "Load older" away. */
const MAX_LIVE_EVENTS = 500;

export function ActivityFeed({ agent }: { agent: Agent }) {
  const live = useLive();
  const [arrived, setArrived] = useState<AuditEvent[]>([]);
  const [showViews, setShowViews] = useState(false);
  const history = useInfiniteQuery({
    queryKey: ['audit', agent.id],
    queryFn: ({ pageParam }) => api.audit({ agent: agent.id, limit: PAGE_SIZE, cursor: pageParam }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextCursor ?? undefined,
  });

  useAuditEvents((event) => {
    if (event.agentId !== agent.id) return;
    setArrived((events) => [event, ...events].slice(0, MAX_LIVE_EVENTS));
  });

  const events = useMemo(() => {
    const bySeq = new Map<number, AuditEvent>();
    for (const event of [...arrived, ...(history.data?.pages.flatMap((p) => p.events) ?? [])])
      bySeq.set(event.seq, event);
    // A command's start is shown until its end arrives, then the end alone tells the story.
    const ended = new Set([...bySeq.values()].filter(isCommandEnd).map((e) => e.params.execId));
    return [...bySeq.values()]
      .filter((event) => showViews || !VIEW_CODES.has(event.code))
      .filter((event) => event.code !== COMMAND_STARTED || !ended.has(event.params.execId))
      .sort((a, b) => b.seq - a.seq);
  }, [arrived, history.data, showViews]);

  return (
    <Paper withBorder p="md" component="section" aria-labelledby="activity-title">
      <Group justify="space-between" mb="md">
        <Group gap="sm">
          <Title order={2} size="h4" id="activity-title">
            Activity
          </Title>
          {live.status.state === 'open' ? (
            <Badge color="green" variant="light" data-testid="live-state">
              Live
            </Badge>
          ) : (
            <Badge color="yellow" variant="light" data-testid="live-state">
              Paused
            </Badge>
          )}
        </Group>
        <Switch
          label="Show views and listings"
          checked={showViews}
          onChange={(e) => setShowViews(e.currentTarget.checked)}
        />
      </Group>
      {history.isPending && <Loading label="Loading this server's activity…" />}
      {history.isError && (
        <ErrorState
          title="Could not load the activity history"
          error={history.error}
          onRetry={() => void history.refetch()}
        />
      )}
      {!history.isPending && events.length === 0 && (
        <EmptyState title="Nothing has happened here yet">
          Commands, sessions and connections on this server appear here the moment they happen.
        </EmptyState>
      )}
      {events.length > 0 && (
        <Timeline bulletSize={22} lineWidth={2} aria-live="polite" data-testid="activity">
          {events.map((event) => (
            <ActivityItem key={event.seq} event={event} agentName={agent.name} />
          ))}
        </Timeline>
      )}
      {history.hasNextPage && (
        <Group justify="center" mt="md">
          <Button
            variant="default"
            onClick={() => void history.fetchNextPage()}
            loading={history.isFetchingNextPage}
          >
            Load older activity
          </Button>
        </Group>
      )}
    </Paper>
  );
}

function ActivityItem({ event, agentName }: { event: AuditEvent; agentName: string }) {
  const command = commandOf(event);
  const failed = event.code.endsWith('E');
  const bullet = command ? (
    <IconTerminal2 size={14} aria-hidden />
  ) : failed ? (
    <IconAlertTriangle size={14} aria-hidden />
  ) : (
    <IconPoint size={14} aria-hidden />
  );

  return (
    <Timeline.Item
      bullet={bullet}
      color={failed ? 'red' : command ? 'blue' : 'gray'}
      title={
        <Group gap="xs" justify="space-between" wrap="nowrap">
          <Text fw={600} size="sm" className="server-text">
            {visibleText(describeEvent(event, agentName))}
          </Text>
          <TimeAgo iso={event.time} c="dimmed" size="xs" style={{ flexShrink: 0 }} />
        </Group>
      }
      data-code={event.code}
    >
      {command && (
        <Stack gap={6} mt={4}>
          {command.command && (
            <Code block className="server-text">
              {visibleText(command.command)}
            </Code>
          )}
          <CommandOutcome summary={command} />
        </Stack>
      )}
    </Timeline.Item>
  );
}

function CommandOutcome({ summary }: { summary: NonNullable<ReturnType<typeof commandOf>> }) {
  const outcome = outcomeOf(summary);
  return (
    <Group gap="xs">
      {outcome ? (
        <Badge color={outcome.ok ? 'green' : 'red'} variant="light">
          {outcome.label}
        </Badge>
      ) : (
        <Badge color="blue" variant="light">
          running
        </Badge>
      )}
      {summary.durationMs !== null && (
        <Text size="xs" c="dimmed">
          took {formatDuration(summary.durationMs)}
        </Text>
      )}
      {summary.error && (
        <Text size="xs" c="red" className="server-text">
          {visibleText(summary.error)}
        </Text>
      )}
    </Group>
  );
}

function isCommandEnd(event: AuditEvent): boolean {
  return event.code === 'T3000I' || event.code === 'T3000E' || event.code === 'T3002E';
}
