/** The side panel of a package page: who may run it, what it asks for, owners, tags, signature. */
import type { ReactNode } from 'react';
import { Anchor, Code, Group, Paper, Stack, Text, Title } from '@mantine/core';
import { Link } from 'react-router';
import { TimeAgo } from '../common/time-ago.tsx';
import { visibleText } from '../common/visible-text.ts';
import { scriptsSearchHref } from './script-paths.ts';
import type { PackageDetail, VersionDetail } from './scripts-api.ts';

/** What each permission a manifest may ask for lets a script do, in words. */
const CAPABILITY_WORDS: Record<string, string> = {
  'fs.read': 'Read files',
  'fs.write': 'Write files',
  exec: 'Run commands',
  http: 'Make HTTP requests',
  env: 'Read environment variables',
};

export function PackageAbout({ pkg, detail }: { pkg: PackageDetail; detail: VersionDetail }) {
  const capabilities = Object.entries(detail.manifest.capabilities).filter(
    (entry): entry is [string, string[]] => Array.isArray(entry[1]),
  );

  return (
    <Paper withBorder p="md" component="aside" aria-labelledby="about-title">
      <Stack gap="md">
        <Title order={2} size="h4" id="about-title">
          About {detail.version}
        </Title>
        <Field label="Who may see and run it">
          <Text size="sm" data-testid="audience">
            {capitalize(detail.audience)}.
          </Text>
        </Field>
        <Field label="Permissions it asks for">
          {capabilities.length === 0 ? (
            <Text size="sm">None: it asks for no access to the server.</Text>
          ) : (
            <Stack gap={4} component="ul" className="plain-list">
              {capabilities.map(([capability, values]) => (
                <Text key={capability} size="sm" component="li" className="server-text">
                  {CAPABILITY_WORDS[capability] ?? capability}
                  {values.length > 0 && `: ${values.map(visibleText).join(', ')}`}
                </Text>
              ))}
            </Stack>
          )}
          <Text size="xs" c="dimmed">
            An agent grants no more than its account&apos;s policy allows.
          </Text>
        </Field>
        <Field label="Owners">
          <Group gap="xs" data-testid="owners">
            {pkg.owners.map((owner) => (
              <Anchor
                key={owner}
                component={Link}
                to={scriptsSearchHref({ owner })}
                size="sm"
                aria-label={`Scripts owned by ${owner}`}
              >
                {owner}
              </Anchor>
            ))}
          </Group>
        </Field>
        {detail.manifest.tags.length > 0 && (
          <Field label="Tags">
            <Group gap="xs">
              {detail.manifest.tags.map((tag) => (
                <Anchor
                  key={tag}
                  component={Link}
                  to={scriptsSearchHref({ tag })}
                  size="sm"
                  aria-label={`Scripts tagged ${tag}`}
                >
                  #{tag}
                </Anchor>
              ))}
            </Group>
          </Field>
        )}
        <Field label="Published">
          <Text size="sm">
            by {detail.publisher}, <TimeAgo iso={detail.publishedAt} />
          </Text>
        </Field>
        <Field label="Signed with the publisher key">
          <Code className="hash-text" data-testid="key-fingerprint">
            {detail.keyId}
          </Code>
        </Field>
        <Field label="Release tag (signed)">
          <Code className="hash-text" data-testid="tag-hash">
            {detail.tag}
          </Code>
        </Field>
        <Field label="Tree hash (what agents run)">
          <Code className="hash-text" data-testid="tree-hash">
            {detail.tree}
          </Code>
        </Field>
      </Stack>
    </Paper>
  );
}

function Field({ label, children }: { label: string; children: ReactNode }) {
  return (
    <Stack gap={4}>
      <Text size="xs" c="dimmed" tt="uppercase" fw={600}>
        {label}
      </Text>
      {children}
    </Stack>
  );
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
