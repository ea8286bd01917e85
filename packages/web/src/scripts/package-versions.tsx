/** A package's versions, newest first (yanked ones marked with why), and who owned it when. */
import { Anchor, Badge, Paper, Stack, Table, Text, Timeline, Title } from '@mantine/core';
import { Link } from 'react-router';
import { TimeAgo } from '../common/time-ago.tsx';
import { visibleText } from '../common/visible-text.ts';
import { ownershipHistory } from './ownership.ts';
import { scriptHref, scriptsSearchHref } from './script-paths.ts';
import type { PackageDetail } from './scripts-api.ts';

export function PackageVersions({ pkg, current }: { pkg: PackageDetail; current: string }) {
  const history = ownershipHistory(pkg.versions);

  return (
    <Stack gap="lg">
      <Table.ScrollContainer minWidth={560}>
        <Table verticalSpacing="xs" aria-label="Versions" data-testid="versions">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Version</Table.Th>
              <Table.Th>Published</Table.Th>
              <Table.Th>By</Table.Th>
              <Table.Th>State</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {pkg.versions.map((v) => (
              <Table.Tr key={v.version} aria-current={v.version === current ? 'true' : undefined}>
                <Table.Td>
                  <Anchor
                    component={Link}
                    to={scriptHref(pkg.name, v.version)}
                    ff="monospace"
                    fw={v.version === current ? 700 : undefined}
                    td={v.yanked ? 'line-through' : undefined}
                  >
                    {v.version}
                  </Anchor>
                </Table.Td>
                <Table.Td>
                  <TimeAgo iso={v.publishedAt} />
                </Table.Td>
                <Table.Td>
                  <Text size="sm">{v.publisher}</Text>
                </Table.Td>
                <Table.Td>
                  {v.yanked ? (
                    <Stack gap={2}>
                      <Badge color="red" variant="filled" w="fit-content">
                        Yanked
                      </Badge>
                      <Text size="xs" className="server-text">
                        {visibleText(v.yanked.reason)}
                      </Text>
                    </Stack>
                  ) : v.version === pkg.latest ? (
                    <Badge color="green" variant="light">
                      Latest
                    </Badge>
                  ) : null}
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>

      <Paper withBorder p="md" component="section" aria-labelledby="ownership-title">
        <Title order={3} size="h5" id="ownership-title" mb="sm">
          Ownership history
        </Title>
        <Text size="sm" c="dimmed" mb="md">
          The first publisher of a name owns it; owners add or drop owners by publishing a version
          that names them. Read from the versions you may see.
        </Text>
        <Timeline bulletSize={12} lineWidth={2} data-testid="ownership-history">
          {history.map((change) => (
            <Timeline.Item key={change.version} title={`${change.version} by ${change.publisher}`}>
              {change.added.length > 0 && (
                <Text size="sm">
                  {change === history[0] ? 'Owned by ' : 'Added '}
                  <People names={change.added} />
                </Text>
              )}
              {change.removed.length > 0 && (
                <Text size="sm">
                  Removed <People names={change.removed} />
                </Text>
              )}
              <TimeAgo iso={change.publishedAt} size="xs" c="dimmed" />
            </Timeline.Item>
          ))}
        </Timeline>
      </Paper>
    </Stack>
  );
}

function People({ names }: { names: string[] }) {
  return names.map((name, i) => (
    <span key={name}>
      {i > 0 && ', '}
      <Anchor component={Link} to={scriptsSearchHref({ owner: name })} size="sm">
        {name}
      </Anchor>
    </span>
  ));
}
