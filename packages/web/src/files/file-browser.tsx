/**
 * One folder on the server: breadcrumbs and a "go to" box, the entries with name, size, mode,
 * owner, modified time and symlink targets, sorting, a filter, the hidden-files switch, and for
 * the editor uploads, downloads, new folder, rename, delete and change mode.
 */
import { useEffect, useMemo, useRef, useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import {
  ActionIcon,
  Anchor,
  Breadcrumbs,
  Button,
  Group,
  Menu,
  Paper,
  Stack,
  Switch,
  Table,
  Text,
  TextInput,
  Tooltip,
  UnstyledButton,
  VisuallyHidden,
} from '@mantine/core';
import {
  IconArrowUp,
  IconChevronDown,
  IconChevronUp,
  IconDots,
  IconDownload,
  IconFile,
  IconFileSymlink,
  IconFolder,
  IconFolderPlus,
  IconRefresh,
  IconSearch,
  IconUpload,
} from '@tabler/icons-react';
import { EmptyState, ErrorState, Loading } from '../common/states.tsx';
import { TimeAgo } from '../common/time-ago.tsx';
import { visibleText } from '../common/visible-text.ts';
import { EntryDialog, type EntryAction } from './entry-dialogs.tsx';
import { formatMode, formatSize, isHidden, octalMode } from './file-format.ts';
import { childRef, crumbsOf, normalizePath, parentRef, type FileRef } from './file-paths.ts';
import { filesApi, type Entry } from './files-api.ts';
import { useUploads } from './upload-panel.tsx';

type SortKey = 'name' | 'size' | 'mtime' | 'owner' | 'mode';
type Sort = { key: SortKey; descending: boolean };

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

function PathBar({ dir, editor, onOpenDir }: FileBrowserProps) {
  const [typed, setTyped] = useState<string | null>(null);
  const problem = typed !== null && normalizePath(typed) === null;
  if (!editor)
    return (
      <Text size="sm" fw={600} ff="monospace" className="server-text" data-testid="observed-cwd">
        {visibleText(dir.path)}
      </Text>
    );
  return (
    <Group gap="xs" wrap="nowrap" align="flex-start">
      <Tooltip label="Up one folder">
        <ActionIcon
          variant="default"
          aria-label="Up one folder"
          disabled={dir.path === '/'}
          onClick={() => onOpenDir(parentRef(dir))}
          mt={2}
        >
          <IconArrowUp size={16} aria-hidden />
        </ActionIcon>
      </Tooltip>
      {typed === null ? (
        <Group gap="xs" style={{ flex: 1 }} wrap="nowrap">
          <Breadcrumbs
            separator="›"
            separatorMargin={4}
            className="file-crumbs"
            aria-label="Folder path"
          >
            {crumbsOf(dir).map((crumb, i, all) =>
              i === all.length - 1 ? (
                <Text key={i} size="sm" fw={600} className="server-text" aria-current="location">
                  {visibleText(crumb.label)}
                </Text>
              ) : (
                <Anchor
                  key={i}
                  component="button"
                  type="button"
                  size="sm"
                  className="server-text"
                  onClick={() => onOpenDir(crumb.ref)}
                >
                  {visibleText(crumb.label)}
                </Anchor>
              ),
            )}
          </Breadcrumbs>
          <Button size="compact-xs" variant="subtle" onClick={() => setTyped(dir.path)}>
            Go to…
          </Button>
        </Group>
      ) : (
        <form
          style={{ flex: 1 }}
          onSubmit={(e) => {
            e.preventDefault();
            const path = normalizePath(typed);
            if (path === null) return;
            setTyped(null);
            onOpenDir({ path });
          }}
        >
          <TextInput
            size="xs"
            label="Go to folder"
            placeholder="/etc/nginx"
            value={typed}
            onChange={(e) => setTyped(e.currentTarget.value)}
            onKeyDown={(e) => e.key === 'Escape' && setTyped(null)}
            error={problem ? 'Type an absolute path, starting with /' : null}
            data-autofocus
            autoFocus
            rightSectionWidth={56}
            rightSection={
              <Button size="compact-xs" type="submit" disabled={problem}>
                Go
              </Button>
            }
          />
        </form>
      )}
    </Group>
  );
}

function EntryTable({
  session,
  dir,
  editor,
  canWrite,
  openPath,
  entries,
  sort,
  onSort,
  onAction,
  onOpenDir,
  onOpenFile,
}: FileBrowserProps & {
  entries: Entry[];
  sort: Sort;
  onSort(sort: Sort): void;
  onAction(action: EntryAction): void;
}) {
  const header = (key: SortKey, label: string) => {
    const active = sort.key === key;
    const Icon = active && sort.descending ? IconChevronDown : IconChevronUp;
    return (
      <Table.Th
        aria-sort={active ? (sort.descending ? 'descending' : 'ascending') : 'none'}
        className="sortable-th"
      >
        <UnstyledButton
          onClick={() => onSort({ key, descending: active ? !sort.descending : false })}
          className="sort-button"
        >
          <Group gap={2} wrap="nowrap">
            <Text size="sm" fw={600}>
              {label}
            </Text>
            {active && <Icon size={12} aria-hidden />}
          </Group>
        </UnstyledButton>
      </Table.Th>
    );
  };
  return (
    <Table.ScrollContainer minWidth={620}>
      <Table aria-label={`Contents of ${dir.path}`} verticalSpacing={4} highlightOnHover>
        <Table.Thead>
          <Table.Tr>
            {header('name', 'Name')}
            {header('size', 'Size')}
            {header('mode', 'Mode')}
            {header('owner', 'Owner')}
            {header('mtime', 'Modified')}
            <Table.Th>
              <VisuallyHidden>Actions</VisuallyHidden>
            </Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {entries.map((entry) => {
            const ref = childRef(dir, entry);
            const folder = entry.type === 'dir' || entry.targetType === 'dir';
            const Icon =
              entry.type === 'symlink' ? IconFileSymlink : folder ? IconFolder : IconFile;
            const opensAsFile =
              entry.type === 'file' || (entry.type === 'symlink' && entry.targetType === 'file');
            const isOpen = openPath === ref.path;
            return (
              <Table.Tr key={entry.nameB64 ?? entry.name} data-open={isOpen || undefined}>
                <Table.Td>
                  <Group gap={6} wrap="nowrap">
                    <Icon size={16} aria-hidden className={folder ? 'icon-folder' : undefined} />
                    {editor && (folder || opensAsFile) ? (
                      <Anchor
                        component="button"
                        type="button"
                        size="sm"
                        className="server-text entry-name"
                        ta="left"
                        fw={isOpen ? 700 : undefined}
                        onClick={() => (folder ? onOpenDir(ref) : onOpenFile(ref, entry))}
                      >
                        {visibleText(entry.name)}
                      </Anchor>
                    ) : (
                      <Text
                        size="sm"
                        className="server-text entry-name"
                        fw={isOpen ? 700 : undefined}
                      >
                        {visibleText(entry.name)}
                      </Text>
                    )}
                    {entry.nameB64 && (
                      <Tooltip label="This name is not valid UTF-8; it is shown approximately">
                        <Text size="xs" c="orange" component="span">
                          (bytes)
                        </Text>
                      </Tooltip>
                    )}
                  </Group>
                  {entry.type === 'symlink' && (
                    <Text size="xs" c="dimmed" className="server-text" ml={22}>
                      → {visibleText(entry.target ?? '?')}
                      {linkNote(entry.targetType)}
                    </Text>
                  )}
                </Table.Td>
                <Table.Td>
                  <Text size="sm" ta="right" className="nowrap" title={`${entry.size} bytes`}>
                    {entry.type === 'dir' ? '—' : formatSize(entry.size)}
                  </Text>
                </Table.Td>
                <Table.Td>
                  <Text size="sm" ff="monospace" className="nowrap" title={octalMode(entry.mode)}>
                    {formatMode(entry.mode, entry.type)}
                  </Text>
                </Table.Td>
                <Table.Td>
                  <Text size="sm" className="nowrap">
                    {visibleText(entry.owner ?? String(entry.uid))}:
                    {visibleText(entry.group ?? String(entry.gid))}
                  </Text>
                </Table.Td>
                <Table.Td className="nowrap">
                  <TimeAgo iso={entry.mtime} />
                </Table.Td>
                <Table.Td>
                  {editor && (
                    <EntryMenu
                      session={session}
                      file={ref}
                      entry={entry}
                      canWrite={canWrite}
                      onAction={onAction}
                    />
                  )}
                </Table.Td>
              </Table.Tr>
            );
          })}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

function EntryMenu({
  session,
  file,
  entry,
  canWrite,
  onAction,
}: {
  session: string;
  file: FileRef;
  entry: Entry;
  canWrite: boolean;
  onAction(action: EntryAction): void;
}) {
  // Renaming addresses files by their text path: a name that is not UTF-8 cannot be renamed.
  const renamable = canWrite && !file.b64;
  return (
    <Menu position="bottom-end" withinPortal>
      <Menu.Target>
        <ActionIcon variant="subtle" aria-label={`Actions for ${entry.name}`}>
          <IconDots size={16} aria-hidden />
        </ActionIcon>
      </Menu.Target>
      <Menu.Dropdown>
        <Menu.Item
          component="a"
          href={filesApi.downloadUrl(session, file)}
          download
          leftSection={<IconDownload size={14} aria-hidden />}
        >
          {entry.type === 'dir' ? 'Download as .tar.gz' : 'Download'}
        </Menu.Item>
        <Menu.Divider />
        <Menu.Item disabled={!renamable} onClick={() => onAction({ kind: 'rename', entry })}>
          Rename…
        </Menu.Item>
        <Menu.Item
          disabled={!canWrite || entry.type === 'symlink'}
          onClick={() => onAction({ kind: 'chmod', entry })}
        >
          Change mode…
        </Menu.Item>
        <Menu.Item
          color="red"
          disabled={!canWrite}
          onClick={() => onAction({ kind: 'delete', entry })}
        >
          Delete…
        </Menu.Item>
        {!canWrite && (
          <Menu.Label>
            Changing files needs the customer’s approval: “Ask to change files”.
          </Menu.Label>
        )}
      </Menu.Dropdown>
    </Menu>
  );
}

function linkNote(type: string | undefined): string {
  if (type === 'missing' || type === undefined) return ' (broken link)';
  if (type === 'loop') return ' (a loop of links)';
  if (type === 'outside') return ' (outside the allowed folders)';
  return '';
}

/** Folders first, then by the chosen column; names break ties so the order never jumps. */
function compare(sort: Sort): (a: Entry, b: Entry) => number {
  const sign = sort.descending ? -1 : 1;
  const byName = (a: Entry, b: Entry) => a.name.localeCompare(b.name, undefined, { numeric: true });
  const value = (e: Entry): number | string => {
    switch (sort.key) {
      case 'size':
        return e.size;
      case 'mtime':
        return Date.parse(e.mtime) || 0;
      case 'owner':
        return e.owner ?? String(e.uid);
      case 'mode':
        return e.mode & 0o7777;
      case 'name':
        return '';
    }
  };
  return (a, b) => {
    const folders = Number(b.type === 'dir') - Number(a.type === 'dir');
    if (folders !== 0) return folders;
    const va = value(a);
    const vb = value(b);
    const primary =
      typeof va === 'number' && typeof vb === 'number'
        ? va - vb
        : String(va).localeCompare(String(vb));
    return sign * (primary !== 0 ? primary : byName(a, b));
  };
}
