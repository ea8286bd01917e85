/** The browser's entries: sortable columns, names that open, and the editor's actions per entry. */
import {
  ActionIcon,
  Anchor,
  Group,
  Menu,
  Table,
  Text,
  Tooltip,
  UnstyledButton,
  VisuallyHidden,
} from '@mantine/core';
import {
  IconChevronDown,
  IconChevronUp,
  IconDots,
  IconDownload,
  IconFile,
  IconFileSymlink,
  IconFolder,
} from '@tabler/icons-react';
import { TimeAgo } from '../common/time-ago.tsx';
import { visibleText } from '../common/visible-text.ts';
import type { EntryAction } from './entry-dialogs.tsx';
import { formatMode, formatSize, octalMode } from './file-format.ts';
import { childRef, type FileRef } from './file-paths.ts';
import { filesApi, type Entry } from './files-api.ts';

export type SortKey = 'name' | 'size' | 'mtime' | 'owner' | 'mode';
export type Sort = { key: SortKey; descending: boolean };

export interface EntryTableProps {
  session: string;
  dir: FileRef;
  editor: boolean;
  canWrite: boolean;
  openPath: string | null;
  entries: Entry[];
  sort: Sort;
  onSort(sort: Sort): void;
  onAction(action: EntryAction): void;
  onOpenDir(dir: FileRef): void;
  onOpenFile(file: FileRef, entry: Entry): void;
}

export function EntryTable({
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
}: EntryTableProps) {
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
export function compare(sort: Sort): (a: Entry, b: Entry) => number {
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
