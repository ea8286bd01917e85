/**
 * A server's file history (or one support request's): folders listed, files viewed, saves with
 * their diffs, uploads, downloads, deletions, renames and mode changes; saves can be replayed.
 */
import { Fragment, useMemo, useState } from 'react';
import { useInfiniteQuery, useQuery, useQueryClient } from '@tanstack/react-query';
import {
  Anchor,
  Badge,
  Button,
  Code,
  Group,
  Paper,
  SegmentedControl,
  Stack,
  Table,
  Text,
  Title,
} from '@mantine/core';
import { IconPlayerPlay } from '@tabler/icons-react';
import { ErrorState, Loading } from '../common/states.tsx';
import { TimeAgo } from '../common/time-ago.tsx';
import { visibleText } from '../common/visible-text.ts';
import { useAuditEvents } from '../live/live-provider.tsx';
import { formatSize } from './file-format.ts';
import { filesApi, type FileEvent, type FileEventKind } from './files-api.ts';
import { SaveReplay } from './save-replay.tsx';
import { UnifiedDiff } from './unified-diff.tsx';

/** File events are audited in the T82xx range (packages/protocol/src/audit-codes.ts). */
const FILE_CODE = /^T82\d\d[IE]$/;

const KINDS: Record<FileEventKind, { label: string; color: string }> = {
  list: { label: 'listed', color: 'gray' },
  view: { label: 'viewed', color: 'gray' },
  download: { label: 'downloaded', color: 'blue' },
  save: { label: 'saved', color: 'green' },
  upload: { label: 'uploaded', color: 'teal' },
  mkdir: { label: 'made folder', color: 'teal' },
  rename: { label: 'renamed', color: 'yellow' },
  chmod: { label: 'changed mode', color: 'yellow' },
  delete: { label: 'deleted', color: 'red' },
};

const SHOWN = {
  all: null,
  changes: new Set<FileEventKind>(['save', 'upload', 'mkdir', 'rename', 'chmod', 'delete']),
  saves: new Set<FileEventKind>(['save']),
} as const;
type Shown = keyof typeof SHOWN;

export function FileHistory({ agentId, ticket }: { agentId: string; ticket?: string }) {
  const client = useQueryClient();
  const [shown, setShown] = useState<Shown>('all');
  const [open, setOpen] = useState<string | null>(null);
  const [replay, setReplay] = useState<FileEvent[] | null>(null);
  const key = ['file-events', agentId, ticket ?? null];
  const history = useInfiniteQuery({
    queryKey: key,
    queryFn: ({ pageParam }) => filesApi.events(agentId, { cursor: pageParam, ticket }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.next ?? undefined,
  });
  // A file event on this server, wherever it happened: the history re-reads what it may see.
  useAuditEvents((event) => {
    if (event.agentId === agentId && FILE_CODE.test(event.code))
      void client.invalidateQueries({ queryKey: key });
  });

  const events = useMemo(() => history.data?.pages.flatMap((p) => p.events) ?? [], [history.data]);
  const filter = SHOWN[shown];
  const visible = filter ? events.filter((e) => filter.has(e.kind)) : events;
  const savesOf = (event: FileEvent) =>
    events
      .filter((e) => e.kind === 'save' && e.sessionId === event.sessionId && e.path === event.path)
      .sort((a, b) => a.at.localeCompare(b.at));

  return (
    <Paper withBorder p="md" component="section" aria-labelledby="file-history-title">
      <Group justify="space-between" mb="sm">
        <Title order={2} size="h4" id="file-history-title">
          File history
        </Title>
        <SegmentedControl
          size="xs"
          value={shown}
          onChange={(value) => setShown(value as Shown)}
          aria-label="Which file events to show"
          data={[
            { value: 'all', label: 'Everything' },
            { value: 'changes', label: 'Changes' },
            { value: 'saves', label: 'Saves' },
          ]}
        />
      </Group>
      {history.isPending && <Loading label="Loading the file history…" />}
      {history.isError && (
        <ErrorState
          title="Cannot load the file history"
          error={history.error}
          onRetry={() => void history.refetch()}
        />
      )}
      {history.data && visible.length === 0 && (
        <Text size="sm" c="dimmed">
          {events.length === 0
            ? 'Nothing has been done with files here yet.'
            : 'Nothing of this kind yet; “Everything” shows the rest.'}
        </Text>
      )}
      {visible.length > 0 && (
        <Table.ScrollContainer minWidth={640}>
          <Table aria-label="File history" verticalSpacing="xs" data-testid="file-history">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>When</Table.Th>
                <Table.Th>Who</Table.Th>
                <Table.Th>What</Table.Th>
                <Table.Th>Path</Table.Th>
                <Table.Th />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {visible.map((event) => (
                <Fragment key={event.id}>
                  <Table.Tr data-kind={event.kind}>
                    <Table.Td>
                      <TimeAgo iso={event.at} />
                    </Table.Td>
                    <Table.Td className="server-text">{visibleText(event.username)}</Table.Td>
                    <Table.Td>
                      <Badge variant="light" color={KINDS[event.kind]?.color ?? 'gray'}>
                        {KINDS[event.kind]?.label ?? visibleText(event.kind)}
                      </Badge>
                    </Table.Td>
                    <Table.Td>
                      <Text size="sm" ff="monospace" className="server-text">
                        {visibleText(event.path)}
                      </Text>
                      {event.toPath && (
                        <Text size="xs" className="server-text">
                          → {visibleText(event.toPath)}
                        </Text>
                      )}
                      <EventFacts event={event} />
                    </Table.Td>
                    <Table.Td>
                      {event.kind === 'save' && (
                        <Group gap="xs" justify="flex-end" wrap="nowrap">
                          <Button
                            size="compact-xs"
                            variant="subtle"
                            aria-expanded={open === event.id}
                            onClick={() => setOpen(open === event.id ? null : event.id)}
                          >
                            {open === event.id ? 'Hide diff' : 'Show diff'}
                          </Button>
                          <Button
                            size="compact-xs"
                            variant="subtle"
                            leftSection={<IconPlayerPlay size={12} aria-hidden />}
                            onClick={() => setReplay(savesOf(event))}
                          >
                            Replay saves
                          </Button>
                        </Group>
                      )}
                    </Table.Td>
                  </Table.Tr>
                  {open === event.id && (
                    <Table.Tr>
                      <Table.Td colSpan={5}>
                        <SaveDetail event={event} />
                      </Table.Td>
                    </Table.Tr>
                  )}
                </Fragment>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      {history.hasNextPage && (
        <Group justify="center" mt="sm">
          <Button
            variant="default"
            size="xs"
            loading={history.isFetchingNextPage}
            onClick={() => void history.fetchNextPage()}
          >
            Load older
          </Button>
        </Group>
      )}
      {replay && <SaveReplay saves={replay} onClose={() => setReplay(null)} />}
    </Paper>
  );
}

/** Sizes, modes and counts where an event has them, in a few words. */
function EventFacts({ event }: { event: FileEvent }) {
  const facts: string[] = [];
  if (event.bytes != null) facts.push(formatSize(event.bytes));
  const detail = event.detail ?? {};
  if (event.kind === 'chmod' && typeof detail.mode === 'string')
    facts.push(
      typeof detail.before === 'string'
        ? `mode ${detail.before} → ${detail.mode}`
        : `mode ${detail.mode}`,
    );
  if (event.kind === 'list' && typeof detail.entries === 'number')
    facts.push(`${detail.entries} entries`);
  if (event.kind === 'delete' && typeof detail.files === 'number')
    facts.push(`${detail.files} files, ${Number(detail.folders ?? 0)} folders`);
  if (facts.length === 0) return null;
  return (
    <Text size="xs" c="dimmed">
      {visibleText(facts.join(' · '))}
    </Text>
  );
}

/** One save: its diff, and the content before and after as kept by the endpoint. */
export function SaveDetail({ event }: { event: FileEvent }) {
  const detail = useQuery({
    queryKey: ['file-event', event.id],
    queryFn: () => filesApi.event(event.id),
    staleTime: Infinity,
  });
  return (
    <Stack gap="xs" data-testid="save-detail">
      {detail.isPending && <Loading label="Loading the diff…" />}
      {detail.isError && <ErrorState title="Cannot load this save" error={detail.error} />}
      {detail.data && (
        <UnifiedDiff diff={detail.data.diff ?? ''} label={`Changes saved to ${event.path}`} />
      )}
      <Group gap="md">
        {event.beforeHash && (
          <Text size="xs">
            Before <Code>{event.beforeHash.slice(0, 12)}</Code>{' '}
            <Anchor href={filesApi.blobUrl(event.beforeHash)} download size="xs">
              download
            </Anchor>
          </Text>
        )}
        {event.afterHash && (
          <Text size="xs">
            After <Code>{event.afterHash.slice(0, 12)}</Code>{' '}
            <Anchor href={filesApi.blobUrl(event.afterHash)} download size="xs">
              download
            </Anchor>
          </Text>
        )}
      </Group>
    </Stack>
  );
}
