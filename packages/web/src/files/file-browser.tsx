/**
 * One folder on the server: breadcrumbs and a "go to" box, the entries with name, size, mode,
 * owner, modified time and symlink targets, sorting, a filter, the hidden-files switch, and for
 * the editor uploads, downloads, new folder, rename, delete and change mode.
 */
import { useEffect, useMemo, useRef, useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import {
  ActionIcon,
  Button,
  Group,
  Paper,
  Stack,
  Switch,
  Text,
  TextInput,
  Tooltip,
} from '@mantine/core';
import {
  IconDownload,
  IconFolderPlus,
  IconRefresh,
  IconSearch,
  IconUpload,
} from '@tabler/icons-react';
import { EmptyState, ErrorState, Loading } from '../common/states.tsx';
import { visibleText } from '../common/visible-text.ts';
import { EntryDialog, type EntryAction } from './entry-dialogs.tsx';
import { EntryTable, compare, type Sort } from './entry-table.tsx';
import { isHidden } from './file-format.ts';
import { parentRef, type FileRef } from './file-paths.ts';
import { filesApi, type Entry } from './files-api.ts';
import { PathBar } from './path-bar.tsx';
import { useUploads } from './upload-panel.tsx';

export interface FileBrowserProps {
  session: string;
  dir: FileRef;
  /** The engineer's browser; observers only follow. */
  editor: boolean;
  canWrite: boolean;
  openPath: string | null;
  /** For observers: the folder as the editor's page listed it, from the live socket. */
  observed?: { entries: Entry[]; truncated: boolean } | null;
  /** Who observers follow, for what they see while waiting. */
  editorName?: string;
  onOpenDir(dir: FileRef): void;
  onOpenFile(file: FileRef, entry: Entry): void;
  /** The editor's page listed `path`: pass it on to the watchers. */
  onListed?(path: string, entries: Entry[]): void;
}
export function FileBrowser(props: FileBrowserProps) {
  const { session, dir, editor, canWrite } = props;
  const [filter, setFilter] = useState('');
  const [hidden, setHidden] = useState(false);
  const [sort, setSort] = useState<Sort>({ key: 'name', descending: false });
  const [action, setAction] = useState<EntryAction | null>(null);
  const picker = useRef<HTMLInputElement>(null);
  const uploads = useUploads(session, dir, editor && canWrite);
  const listing = useQuery({
    queryKey: ['file-list', session, dir.b64 ?? dir.path],
    queryFn: () => filesApi.list(session, dir),
    // Observers may not list through the session: they see the editor's listing.
    enabled: editor,
  });
  const { onListed, observed } = props;
  useEffect(() => {
    if (editor && listing.data && !dir.b64) onListed?.(dir.path, listing.data.entries);
  }, [editor, listing.data, dir, onListed]);
  const data = editor ? listing.data : observed ? { entries: observed.entries } : undefined;

  const entries = useMemo(() => {
    const needle = filter.trim().toLowerCase();
    return (data?.entries ?? [])
      .filter((e) => hidden || !isHidden(e.name))
      .filter((e) => needle === '' || e.name.toLowerCase().includes(needle))
      .sort(compare(sort));
  }, [data, filter, hidden, sort]);
  const total = data?.entries.length ?? 0;
  const hiddenCount = (data?.entries ?? []).filter((e) => isHidden(e.name)).length;

  const writeTip = canWrite ? null : 'Ask to change files first';
  return (
    <Paper
      withBorder
      p="sm"
      component="section"
      aria-label="Folder"
      className={uploads.dragging ? 'file-browser dropping' : 'file-browser'}
      {...(editor ? uploads.dropProps : {})}
    >
      <Stack gap="xs">
        <PathBar {...props} />
        <Group gap="xs" justify="space-between">
          <Group gap="xs">
            <TextInput
              size="xs"
              placeholder="Filter by name"
              aria-label="Filter by name"
              leftSection={<IconSearch size={14} aria-hidden />}
              value={filter}
              onChange={(e) => setFilter(e.currentTarget.value)}
              w={170}
            />
            <Switch
              size="xs"
              label={`Hidden files${hiddenCount > 0 ? ` (${hiddenCount})` : ''}`}
              checked={hidden}
              onChange={(e) => setHidden(e.currentTarget.checked)}
            />
          </Group>
          <Group gap={4}>
            {editor && (
              <>
                <Tooltip label="Reload the folder">
                  <ActionIcon
                    variant="subtle"
                    aria-label="Reload the folder"
                    onClick={() => void listing.refetch()}
                    loading={listing.isFetching}
                  >
                    <IconRefresh size={16} aria-hidden />
                  </ActionIcon>
                </Tooltip>
                <Tooltip label={writeTip ?? 'Upload files here (or drop them on the list)'}>
                  <Button
                    size="xs"
                    variant="light"
                    leftSection={<IconUpload size={14} aria-hidden />}
                    disabled={!canWrite}
                    onClick={() => picker.current?.click()}
                  >
                    Upload
                  </Button>
                </Tooltip>
                <input
                  ref={picker}
                  type="file"
                  multiple
                  hidden
                  aria-label="Files to upload"
                  onChange={(e) => {
                    uploads.add([...(e.currentTarget.files ?? [])], dir);
                    e.currentTarget.value = '';
                  }}
                />
                <Tooltip label={writeTip ?? 'Make a folder here'}>
                  <Button
                    size="xs"
                    variant="light"
                    leftSection={<IconFolderPlus size={14} aria-hidden />}
                    disabled={!canWrite}
                    onClick={() => setAction({ kind: 'mkdir' })}
                  >
                    New folder
                  </Button>
                </Tooltip>
                <Tooltip label="Download this folder as .tar.gz">
                  <ActionIcon
                    variant="subtle"
                    component="a"
                    href={filesApi.downloadUrl(session, dir)}
                    download
                    aria-label="Download this folder as .tar.gz"
                  >
                    <IconDownload size={16} aria-hidden />
                  </ActionIcon>
                </Tooltip>
              </>
            )}
          </Group>
        </Group>
        {uploads.panel}
        {uploads.dragging && (
          <Text size="sm" c="blue" ta="center" role="status">
            Drop to upload into {visibleText(dir.path)}
          </Text>
        )}
        {editor && listing.isPending && <Loading label={`Listing ${visibleText(dir.path)}…`} />}
        {!editor && !observed && (
          <Loading
            label={`Waiting for ${visibleText(props.editorName ?? 'the engineer')}’s list of ${visibleText(dir.path)}…`}
          />
        )}
        {!editor && observed?.truncated && (
          <Text size="xs" c="dimmed">
            A long folder: the first {observed.entries.length} entries are shown.
          </Text>
        )}
        {editor && listing.isError && (
          <ErrorState
            title={`Cannot list ${visibleText(dir.path)}`}
            error={listing.error}
            onRetry={() => void listing.refetch()}
            action={
              dir.path !== '/' && (
                <Button size="xs" variant="default" onClick={() => props.onOpenDir(parentRef(dir))}>
                  Go up
                </Button>
              )
            }
          />
        )}
        {data && total === 0 && (
          <EmptyState title="This folder is empty">
            {editor && canWrite
              ? 'Drop files here or use Upload to put some in.'
              : 'There is nothing in it.'}
          </EmptyState>
        )}
        {data && total > 0 && entries.length === 0 && (
          <Text size="sm" c="dimmed" ta="center" py="md">
            Nothing matches{filter ? ` “${filter}”` : ''}
            {!hidden && hiddenCount > 0 ? '; hidden files are switched off' : ''}.
          </Text>
        )}
        {entries.length > 0 && (
          <EntryTable
            {...props}
            entries={entries}
            sort={sort}
            onSort={setSort}
            onAction={setAction}
          />
        )}
      </Stack>
      {action && (
        <EntryDialog session={session} dir={dir} action={action} onClose={() => setAction(null)} />
      )}
    </Paper>
  );
}
