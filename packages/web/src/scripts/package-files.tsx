/**
 * A version's files: the folder at the path with its README below, or the file at the path in a
 * read-only, highlighted viewer. Breadcrumbs lead back up. Versions never change, so what was
 * read once is kept for the page's life.
 */
import { Suspense, lazy } from 'react';
import { useQuery } from '@tanstack/react-query';
import {
  Alert,
  Anchor,
  Badge,
  Breadcrumbs,
  Button,
  Group,
  Paper,
  Stack,
  Table,
  Text,
} from '@mantine/core';
import { IconDownload, IconFile, IconFolder, IconInfoCircle } from '@tabler/icons-react';
import { Link } from 'react-router';
import { EmptyState, ErrorState, Loading } from '../common/states.tsx';
import { visibleText } from '../common/visible-text.ts';
import { decodeFile, formatSize, MAX_SHOWN_BYTES, readmeOf, sortEntries } from './file-content.ts';
import { languageLabel } from './language-names.ts';
import { scriptHref } from './script-paths.ts';
import { scriptsApi, type PathContent, type TreeEntry } from './scripts-api.ts';

/** CodeMirror and its languages load with the first file shown, not with the site. */
const CodeView = lazy(() => import('./code-view.tsx').then((m) => ({ default: m.CodeView })));

interface Place {
  name: string;
  version: string;
  path: string[];
}

export function PackageFiles(place: Place) {
  const content = usePath(place);

  return (
    <Stack gap="sm">
      <PathCrumbs {...place} />
      {content.isPending && (
        <Loading
          label={`Loading ${place.path.length ? visibleText(place.path.join('/')) : 'the files'}…`}
        />
      )}
      {content.isError && (
        <ErrorState
          title="Cannot show this path"
          error={content.error}
          onRetry={() => void content.refetch()}
          action={
            <Button
              component={Link}
              to={scriptHref(place.name, place.version)}
              size="xs"
              variant="light"
              color="red"
            >
              Go to the top folder
            </Button>
          }
        />
      )}
      {content.data?.kind === 'tree' && <Folder place={place} entries={content.data.entries} />}
      {content.data?.kind === 'blob' && <FileView place={place} file={content.data} />}
    </Stack>
  );
}

function usePath({ name, version, path }: Place) {
  const joined = path.join('/');
  return useQuery({
    queryKey: ['script-path', name, version, joined],
    queryFn: () => scriptsApi.path(name, version, joined, MAX_SHOWN_BYTES),
    staleTime: Infinity,
  });
}

function PathCrumbs({ name, version, path }: Place) {
  const crumbs = [`${name}@${version}`, ...path];
  return (
    <nav aria-label="Folder path">
      <Breadcrumbs separatorMargin={4} className="hash-text">
        {crumbs.map((crumb, i) =>
          i === crumbs.length - 1 ? (
            <Text key={i} size="sm" ff="monospace" fw={600} aria-current="page">
              {visibleText(crumb)}
            </Text>
          ) : (
            <Anchor
              key={i}
              component={Link}
              to={scriptHref(name, version, path.slice(0, i))}
              size="sm"
              ff="monospace"
            >
              {visibleText(crumb)}
            </Anchor>
          ),
        )}
      </Breadcrumbs>
    </nav>
  );
}

function Folder({ place, entries }: { place: Place; entries: TreeEntry[] }) {
  const readme = readmeOf(entries);
  const here = place.path.length ? place.path.join('/') : 'the top folder';

  return (
    <Stack gap="md">
      <Paper withBorder>
        <Table verticalSpacing={6} highlightOnHover aria-label={`Files in ${visibleText(here)}`}>
          <Table.Tbody>
            {place.path.length > 0 && (
              <Table.Tr>
                <Table.Td>
                  <Anchor
                    component={Link}
                    to={scriptHref(place.name, place.version, place.path.slice(0, -1))}
                    size="sm"
                    aria-label="Up to the parent folder"
                  >
                    ..
                  </Anchor>
                </Table.Td>
              </Table.Tr>
            )}
            {sortEntries(entries).map((entry) => (
              <Table.Tr key={entry.name}>
                <Table.Td>
                  <Group gap="xs" wrap="nowrap">
                    {entry.type === 'tree' ? (
                      <IconFolder
                        size={16}
                        color="var(--mantine-color-yellow-5)"
                        aria-label="Folder"
                      />
                    ) : (
                      <IconFile size={16} aria-label="File" />
                    )}
                    <Anchor
                      component={Link}
                      to={scriptHref(place.name, place.version, [...place.path, entry.name])}
                      size="sm"
                      ff="monospace"
                      className="hash-text"
                    >
                      {visibleText(entry.name)}
                      {entry.type === 'tree' ? '/' : ''}
                    </Anchor>
                    {entry.mode === '100755' && (
                      <Badge size="xs" variant="outline" color="gray" tt="none">
                        executable
                      </Badge>
                    )}
                  </Group>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Paper>
      {readme ? (
        <Readme place={{ ...place, path: [...place.path, readme.name] }} />
      ) : (
        place.path.length === 0 && (
          <Text size="sm" c="dimmed">
            This version has no README. Open{' '}
            <Anchor component={Link} to={scriptHref(place.name, place.version, ['script.json'])}>
              script.json
            </Anchor>{' '}
            to see what it declares.
          </Text>
        )
      )}
    </Stack>
  );
}

function Readme({ place }: { place: Place }) {
  const content = usePath(place);
  const fileName = place.path.at(-1)!;

  return (
    <Stack gap="xs" component="section" aria-label="README" data-testid="readme">
      <Text fw={600} size="sm" ff="monospace">
        {visibleText(fileName)}
      </Text>
      {content.isPending && <Loading label={`Loading ${visibleText(fileName)}…`} />}
      {content.isError && (
        <ErrorState
          title="Cannot show the README"
          error={content.error}
          onRetry={() => void content.refetch()}
        />
      )}
      {content.data?.kind === 'blob' && <FileText place={place} file={content.data} wrap />}
    </Stack>
  );
}

function FileView({ place, file }: { place: Place; file: Extract<PathContent, { kind: 'blob' }> }) {
  const fileName = place.path.at(-1) ?? '';
  return (
    <Paper withBorder p="sm" component="section" aria-label={`File ${visibleText(fileName)}`}>
      <Stack gap="xs">
        <Group justify="space-between" wrap="wrap">
          <Group gap="xs">
            <Text fw={600} size="sm" ff="monospace" className="hash-text" data-testid="open-file">
              {visibleText(fileName)}
            </Text>
            <Text size="xs" c="dimmed">
              {formatSize(file.size)} · {languageLabel(fileName)}
            </Text>
          </Group>
          <DownloadButton place={place} />
        </Group>
        <FileText place={place} file={file} />
      </Stack>
    </Paper>
  );
}

function FileText({
  place,
  file,
  wrap = false,
}: {
  place: Place;
  file: Extract<PathContent, { kind: 'blob' }>;
  wrap?: boolean;
}) {
  const fileName = place.path.at(-1) ?? '';
  const decoded = decodeFile(file.bytes, file.truncated);

  if (decoded.kind === 'binary')
    return (
      <EmptyState title="This file is binary" action={<DownloadButton place={place} />}>
        {`${visibleText(fileName)} (${formatSize(file.size)}) is not text, so it is not shown here. Download it to open it with a program that reads it.`}
      </EmptyState>
    );
  return (
    <Stack gap="xs">
      {file.truncated && (
        <Alert
          color="blue"
          variant="light"
          icon={<IconInfoCircle aria-hidden />}
          data-testid="truncated"
        >
          Showing the first {formatSize(MAX_SHOWN_BYTES)} of {formatSize(file.size)}. Download the
          file to read all of it.
        </Alert>
      )}
      <Suspense fallback={<Loading label="Loading the viewer…" />}>
        <CodeView
          text={decoded.text}
          fileName={fileName}
          label={`${fileName}, read-only`}
          wrap={wrap}
        />
      </Suspense>
    </Stack>
  );
}

function DownloadButton({ place }: { place: Place }) {
  const fileName = place.path.at(-1) ?? 'file';
  return (
    <Button
      component="a"
      href={scriptsApi.fileUrl(place.name, place.version, place.path.join('/'))}
      download={fileName}
      size="xs"
      variant="default"
      leftSection={<IconDownload size={14} aria-hidden />}
    >
      Download
    </Button>
  );
}
