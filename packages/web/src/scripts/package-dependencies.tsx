/** What a version needs: each dependency's range and the version its lock pinned at publish. */
import { Alert, Anchor, Badge, Code, Table, Text, Stack } from '@mantine/core';
import { IconLock } from '@tabler/icons-react';
import { Link } from 'react-router';
import { EmptyState } from '../common/states.tsx';
import { scriptHref } from './script-paths.ts';
import type { LockEntry, VersionDetail } from './scripts-api.ts';

interface Row {
  name: string;
  /** The range the manifest asks for; null for a dependency of a dependency. */
  range: string | null;
  locked: LockEntry | null;
}

export function PackageDependencies({ detail }: { detail: VersionDetail }) {
  const rows = dependencyRows(detail);

  if (rows.length === 0 && !detail.lockHidden)
    return (
      <EmptyState title="No dependencies">
        {`${detail.name}@${detail.version} needs no other package: it runs with its own files alone.`}
      </EmptyState>
    );
  return (
    <Stack gap="sm">
      <Text size="sm" c="dimmed">
        Versions were locked when {detail.version} was published: an agent running it gets exactly
        these, whatever is published later.
      </Text>
      {detail.lockHidden && (
        <Alert color="yellow" variant="light" icon={<IconLock aria-hidden />}>
          Some locked dependencies are not visible to you, so they are left out here.
        </Alert>
      )}
      <Table.ScrollContainer minWidth={480}>
        <Table verticalSpacing="xs" aria-label="Dependencies" data-testid="dependencies">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Package</Table.Th>
              <Table.Th>Asks for</Table.Th>
              <Table.Th>Locked to</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {rows.map((row) => (
              <Table.Tr key={row.name}>
                <Table.Td>
                  <Text size="sm" ff="monospace">
                    {row.name}
                  </Text>
                  {row.range === null && (
                    <Badge size="xs" variant="outline" color="gray" tt="none">
                      needed by a dependency
                    </Badge>
                  )}
                </Table.Td>
                <Table.Td>{row.range === null ? '—' : <Code>{row.range}</Code>}</Table.Td>
                <Table.Td>
                  {row.locked ? (
                    <Anchor
                      component={Link}
                      to={scriptHref(row.locked.name, row.locked.version)}
                      ff="monospace"
                      size="sm"
                      aria-label={`${row.locked.name} ${row.locked.version}`}
                    >
                      {row.locked.version}
                    </Anchor>
                  ) : (
                    <Text size="sm" c="dimmed">
                      hidden from you
                    </Text>
                  )}
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
    </Stack>
  );
}

/** The manifest's own dependencies first, in its order, then what they pulled in. */
function dependencyRows(detail: VersionDetail): Row[] {
  const locked = new Map(detail.lock.map((entry) => [entry.name, entry]));
  const direct = Object.entries(detail.manifest.dependencies).map(([name, range]) => ({
    name,
    range,
    locked: locked.get(name) ?? null,
  }));
  const named = new Set(direct.map((row) => row.name));
  const indirect = detail.lock
    .filter((entry) => !named.has(entry.name))
    .map((entry) => ({ name: entry.name, range: null, locked: entry }));
  return [...direct, ...indirect];
}
