/**
 * The open file: the shared editor for text files (with save, unsaved-changes state and the
 * diff before saving), pages for large files, a hex preview for binary ones.
 */
import { useState } from 'react';
import { Badge, Button, Group, Loader, Paper, Stack, Text, Tooltip } from '@mantine/core';
import { IconDeviceFloppy, IconDownload, IconX } from '@tabler/icons-react';
import { EmptyState } from '../common/states.tsx';
import { visibleText } from '../common/visible-text.ts';
import { SharedEditor } from './file-editor.tsx';
import { formatSize } from './file-format.ts';
import type { LiveFile } from './file-live-socket.ts';
import { HexPreview } from './hex-preview.tsx';
import { filesApi, type SaveAnswer } from './files-api.ts';
import { PagedView } from './paged-view.tsx';
import { SaveReview } from './save-review.tsx';

export interface FileViewerProps {
  session: string;
  file: LiveFile | null;
  /** A path asked for and not open yet. */
  opening: string | null;
  editor: boolean;
  /** Whether the engineer may save now (write access granted, writes not switched off). */
  canSave: boolean;
  /** Why saving is not possible yet, for the Save button's tooltip. */
  saveBlocked: string | null;
  readOnly: boolean;
  dirty: boolean;
  editorName: string;
  baseHash: string | null;
  onChange(text: string): void;
  currentText(): string;
  onSaved(answer: SaveAnswer, content: string): void;
  onReload(): void;
  onClose(): void;
}

export function FileViewer(props: FileViewerProps) {
  const { session, file, opening, editor, canSave, saveBlocked, readOnly, dirty, baseHash } = props;
  const [review, setReview] = useState<string | null>(null);

  if (opening)
    return (
      <Paper withBorder p="xl">
        <Group gap="sm" justify="center" role="status">
          <Loader size="sm" aria-hidden />
          <Text c="dimmed">Opening {visibleText(opening)}…</Text>
        </Group>
      </Paper>
    );
  if (!file)
    return (
      <EmptyState title="No file open">
        {editor
          ? 'Pick a file in the folder list to open it. Text files open for editing; the customer sees what you type.'
          : `${visibleText(props.editorName)} has no file open. The file they open, their cursor and what they type show here.`}
      </EmptyState>
    );

  const { meta } = file;
  const ref = { path: meta.path };
  const startSave = () => {
    if (canSave && file.doc) setReview(props.currentText());
  };

  return (
    <Paper withBorder p="sm" component="section" aria-label="Open file">
      <Stack gap="xs">
        <Group justify="space-between" wrap="nowrap" align="flex-start">
          <Stack gap={0} style={{ minWidth: 0 }}>
            <Text fw={600} ff="monospace" size="sm" className="server-text" data-testid="open-path">
              {visibleText(meta.path)}
            </Text>
            <Text size="xs" c="dimmed">
              {formatSize(meta.size)}
              {(baseHash ?? meta.hash) ? ` · sha256 ${(baseHash ?? meta.hash)!.slice(0, 12)}` : ''}
            </Text>
          </Stack>
          <Group gap="xs" wrap="nowrap">
            {meta.shared && (
              <Badge
                variant="light"
                color={dirty ? 'yellow' : 'green'}
                data-testid="save-state"
                aria-live="polite"
              >
                {dirty ? 'Unsaved changes' : 'Saved'}
              </Badge>
            )}
            {editor && meta.shared && (
              <Tooltip label={saveBlocked ?? 'Review the changes, then save (Ctrl+S)'}>
                <Button
                  size="xs"
                  leftSection={<IconDeviceFloppy size={14} aria-hidden />}
                  disabled={!canSave || !dirty}
                  onClick={startSave}
                >
                  Save…
                </Button>
              </Tooltip>
            )}
            {editor && (
              <Tooltip label="Download this file">
                <Button
                  size="xs"
                  variant="default"
                  component="a"
                  href={filesApi.downloadUrl(session, ref)}
                  download
                  aria-label="Download this file"
                  px={8}
                >
                  <IconDownload size={14} aria-hidden />
                </Button>
              </Tooltip>
            )}
            {editor && (
              <Tooltip label="Close this file">
                <Button
                  size="xs"
                  variant="default"
                  onClick={props.onClose}
                  aria-label="Close this file"
                  px={8}
                >
                  <IconX size={14} aria-hidden />
                </Button>
              </Tooltip>
            )}
          </Group>
        </Group>
        {meta.shared && file.doc && file.awareness ? (
          <SharedEditor
            doc={file.doc}
            awareness={file.awareness}
            path={meta.path}
            readOnly={readOnly}
            onSave={startSave}
            onChange={props.onChange}
          />
        ) : !editor ? (
          <Text size="sm" c="dimmed" py="md" data-testid="not-shared">
            {visibleText(props.editorName)} opened a{' '}
            {meta.binary ? 'binary file' : `large file (${formatSize(meta.size)})`}: it is not
            shared live. You see which file it is; its content shows only on their screen, and what
            they do with it is in the file history.
          </Text>
        ) : meta.binary ? (
          <HexPreview session={session} file={ref} size={meta.size} />
        ) : (
          <PagedView session={session} file={ref} size={meta.size} />
        )}
      </Stack>
      {review !== null && baseHash && (
        <SaveReview
          session={session}
          path={meta.path}
          content={review}
          baseHash={baseHash}
          onSaved={(answer) => {
            props.onSaved(answer, review);
            setReview(null);
          }}
          onReload={() => {
            setReview(null);
            props.onReload();
          }}
          onClose={() => setReview(null)}
        />
      )}
    </Paper>
  );
}
