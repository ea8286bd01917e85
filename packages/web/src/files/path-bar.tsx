/** The browser's path: breadcrumbs with "go to" for the editor, the plain path for observers. */
import { useState } from 'react';
import {
  ActionIcon,
  Anchor,
  Breadcrumbs,
  Button,
  Group,
  Text,
  TextInput,
  Tooltip,
} from '@mantine/core';
import { IconArrowUp } from '@tabler/icons-react';
import { visibleText } from '../common/visible-text.ts';
import { crumbsOf, normalizePath, parentRef, type FileRef } from './file-paths.ts';

export function PathBar({
  dir,
  editor,
  onOpenDir,
}: {
  dir: FileRef;
  editor: boolean;
  onOpenDir(dir: FileRef): void;
}) {
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
