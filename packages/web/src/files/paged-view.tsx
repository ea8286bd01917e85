/**
 * A file over the text limit: read-only, one page at a time, or following its end as it grows
 * (a log), by asking for the last bytes every few seconds.
 */
import { useState } from 'react';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { Alert, Button, Group, Loader, Stack, Switch, Text } from '@mantine/core';
import { IconDownload } from '@tabler/icons-react';
import { ErrorState } from '../common/states.tsx';
import { TextView } from './file-editor.tsx';
import { formatSize } from './file-format.ts';
import type { FileRef } from './file-paths.ts';
import { filesApi } from './files-api.ts';

/** A page: big enough to read a stretch of log, small enough to draw at once. */
export const PAGE_BYTES = 256 * 1024;
/** What follow mode shows of the end, and how often it asks. */
const TAIL_BYTES = 64 * 1024;
const TAIL_POLL_MS = 2000;

export function PagedView({
  session,
  file,
  size: initialSize,
}: {
  session: string;
  file: FileRef;
  size: number;
}) {
  const [offset, setOffset] = useState(0);
  /** Where each visited page started: pages end on a character, not always on PAGE_BYTES. */
  const [starts, setStarts] = useState<number[]>([0]);
  const [follow, setFollow] = useState(false);
  const key = file.b64 ?? file.path;
  const page = useQuery({
    queryKey: ['file-page', session, key, offset],
    queryFn: () => filesApi.text(session, file, { offset, length: PAGE_BYTES }),
    enabled: !follow,
    placeholderData: keepPreviousData,
  });
  const tail = useQuery({
    queryKey: ['file-tail', session, key],
    queryFn: () => filesApi.text(session, file, { tail: TAIL_BYTES }),
    enabled: follow,
    refetchInterval: TAIL_POLL_MS,
  });
  const current = follow ? tail : page;
  const size = current.data?.size ?? initialSize;
  const pages = Math.max(1, Math.ceil(size / PAGE_BYTES));
  const index = Math.max(0, starts.indexOf(offset));
  const atEnd = follow || Boolean(page.data?.eof);
  const next = () => {
    const data = page.data;
    if (!data) return;
    const after = data.offset + (data.length ?? new TextEncoder().encode(data.content).length);
    setStarts((s) => [...s.slice(0, index + 1), after]);
    setOffset(after);
  };
  const previous = () => setOffset(starts[Math.max(0, index - 1)] ?? 0);
  const last = () => {
    const start = Math.max(0, size - PAGE_BYTES);
    setStarts((s) => [...s.slice(0, index + 1), start]);
    setOffset(start);
  };

  return (
    <Stack gap="xs" data-testid="paged-view">
      <Alert color="blue" variant="light" p="xs">
        <Text size="sm">
          This file is {formatSize(size)}, over the {formatSize(2 * 1024 * 1024)} that open for
          editing: it is shown read-only, {formatSize(PAGE_BYTES)} at a time.
        </Text>
      </Alert>
      <Group justify="space-between">
        <Group gap="xs">
          <Button
            size="xs"
            variant="default"
            disabled={follow || offset === 0}
            onClick={() => {
              setStarts([0]);
              setOffset(0);
            }}
          >
            First
          </Button>
          <Button size="xs" variant="default" disabled={follow || offset === 0} onClick={previous}>
            Previous
          </Button>
          <Text size="sm" aria-live="polite">
            {follow
              ? `Following the last ${formatSize(TAIL_BYTES)}`
              : `From ${formatSize(offset)} of ${formatSize(size)} (about page ${Math.floor(offset / PAGE_BYTES) + 1} of ${pages})`}
          </Text>
          <Button size="xs" variant="default" disabled={atEnd || !page.data} onClick={next}>
            Next
          </Button>
          <Button size="xs" variant="default" disabled={atEnd} onClick={last}>
            Last
          </Button>
        </Group>
        <Group gap="sm">
          {current.isFetching && <Loader size="xs" aria-label="Reading" />}
          <Switch
            label="Follow the end (tail)"
            checked={follow}
            onChange={(e) => setFollow(e.currentTarget.checked)}
          />
          <Button
            component="a"
            href={filesApi.downloadUrl(session, file)}
            download
            size="xs"
            variant="light"
            leftSection={<IconDownload size={14} aria-hidden />}
          >
            Download
          </Button>
        </Group>
      </Group>
      {current.isError && (
        <ErrorState
          title="Cannot read this part"
          error={current.error}
          onRetry={() => void current.refetch()}
        />
      )}
      {current.isPending && !current.isError && (
        <Group gap="sm" justify="center" py="xl" role="status">
          <Loader size="sm" aria-hidden />
          <Text c="dimmed">
            {follow
              ? 'Reading the end of the file…'
              : `Reading ${formatSize(offset)} to ${formatSize(Math.min(size, offset + PAGE_BYTES))}…`}
          </Text>
        </Group>
      )}
      {current.data && current.data.binary && (
        <Text size="sm" c="orange">
          This part holds bytes that are not text; they are shown as replacement characters.
        </Text>
      )}
      {current.data && (
        <TextView
          text={current.data.content}
          path={file.path}
          label={`${file.path}, ${follow ? 'end of file' : `from byte ${offset}`} (read-only)`}
          followEnd={follow}
        />
      )}
    </Stack>
  );
}
