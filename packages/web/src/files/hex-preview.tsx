/** The first bytes of a binary file as a hex dump, with a download for the rest. */
import { useQuery } from '@tanstack/react-query';
import { Button, Code, Group, ScrollArea, Stack, Text } from '@mantine/core';
import { IconDownload } from '@tabler/icons-react';
import { ErrorState, Loading } from '../common/states.tsx';
import { formatSize, hexLines } from './file-format.ts';
import type { FileRef } from './file-paths.ts';
import { filesApi } from './files-api.ts';

/** 4 KiB: 256 lines, enough to recognise a format by its header. */
const PREVIEW_BYTES = 4096;

export function HexPreview({
  session,
  file,
  size,
}: {
  session: string;
  file: FileRef;
  size: number;
}) {
  const head = useQuery({
    queryKey: ['file-head', session, file.b64 ?? file.path],
    queryFn: () => filesApi.head(session, file, PREVIEW_BYTES),
    staleTime: 30_000,
  });
  return (
    <Stack gap="xs" data-testid="hex-preview">
      <Group justify="space-between">
        <Text size="sm">
          This file is binary ({formatSize(size)}): it cannot be edited here.
          {size > PREVIEW_BYTES ? ` The first ${formatSize(PREVIEW_BYTES)} are shown.` : ''}
        </Text>
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
      {head.isPending && <Loading label="Reading the first bytes…" />}
      {head.isError && (
        <ErrorState
          title="Cannot read this file"
          error={head.error}
          onRetry={() => void head.refetch()}
        />
      )}
      {head.data && (
        <ScrollArea.Autosize mah={520} type="auto">
          <Code block className="hex-dump" aria-label="Hex dump of the first bytes">
            {hexLines(head.data).join('\n')}
          </Code>
        </ScrollArea.Autosize>
      )}
    </Stack>
  );
}
