/** Scripts: search the repository by words, tag and owner, a page at a time; filters in the URL. */
import { useEffect, useRef, useState, type ChangeEvent } from 'react';
import { useInfiniteQuery } from '@tanstack/react-query';
import {
  Anchor,
  Badge,
  Button,
  Code,
  Group,
  Paper,
  SimpleGrid,
  Stack,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { IconSearch, IconTag, IconUser, IconX } from '@tabler/icons-react';
import { Link, useSearchParams } from 'react-router';
import { EmptyState, ErrorState, Loading } from '../common/states.tsx';
import { TimeAgo } from '../common/time-ago.tsx';
import { visibleText } from '../common/visible-text.ts';
import { scriptHref, scriptsSearchHref } from './script-paths.ts';
import { scriptsApi, type PackageFilter, type PackageSummary } from './scripts-api.ts';
import { visibilityLabel } from './visibility-labels.ts';
import './scripts.css';

/** Typing settles this long before the search runs, so each keystroke is not a request. */
const SEARCH_DELAY_MS = 300;
const PAGE_SIZE = 20;
const FIELDS = ['q', 'tag', 'owner'] as const;

type Draft = Record<(typeof FIELDS)[number], string>;

export function ScriptsPage() {
  const [draft, setDraft, filter] = useFilterInUrl();
  const filtered = Boolean(filter.q || filter.tag || filter.owner);
  const scripts = useInfiniteQuery({
    queryKey: ['scripts', filter],
    queryFn: ({ pageParam }) => scriptsApi.packages(filter, pageParam, PAGE_SIZE),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextCursor ?? undefined,
  });
  const packages = scripts.data?.pages.flatMap((page) => page.packages) ?? [];
  const field = (name: keyof Draft) => ({
    value: draft[name],
    onChange: (e: ChangeEvent<HTMLInputElement>) =>
      setDraft({ ...draft, [name]: e.currentTarget.value }),
    rightSection: draft[name] ? (
      <ClearButton
        label={`Clear ${name === 'q' ? 'the search' : `the ${name}`}`}
        onClear={() => setDraft({ ...draft, [name]: '' })}
      />
    ) : undefined,
  });

  return (
    <Stack>
      <Title order={1} size="h2">
        Scripts
      </Title>
      <Text c="dimmed" maw={720}>
        Scripts and libraries in the repository that you may see. Each version is signed by the
        person who published it and never changes once published.
      </Text>
      <form role="search" aria-label="Scripts" onSubmit={(e) => e.preventDefault()}>
        <SimpleGrid cols={{ base: 1, sm: 3 }} spacing="sm">
          <TextInput
            label="Search"
            placeholder="Name, description or tag"
            leftSection={<IconSearch size={16} aria-hidden />}
            {...field('q')}
          />
          <TextInput
            label="Tag"
            placeholder="e.g. disk"
            leftSection={<IconTag size={16} aria-hidden />}
            {...field('tag')}
          />
          <TextInput
            label="Owner"
            placeholder="username"
            leftSection={<IconUser size={16} aria-hidden />}
            {...field('owner')}
          />
        </SimpleGrid>
      </form>

      {scripts.isPending && <Loading label="Loading scripts…" />}
      {scripts.isError && (
        <ErrorState
          title="Could not load scripts"
          error={scripts.error}
          onRetry={() => void scripts.refetch()}
        />
      )}
      {scripts.isSuccess && packages.length === 0 && !filtered && <NoScriptsYet />}
      {scripts.isSuccess && packages.length === 0 && filtered && (
        <EmptyState
          title="No scripts match"
          action={
            <Button variant="default" onClick={() => setDraft({ q: '', tag: '', owner: '' })}>
              Clear the search and filters
            </Button>
          }
        >
          Nothing you may see matches these words, tag and owner. Words match the start of a word in
          a name, description or tag; tags and owners must match exactly.
        </EmptyState>
      )}
      {packages.length > 0 && (
        <Stack component="ul" gap="sm" aria-label="Scripts found" className="plain-list">
          {packages.map((pkg) => (
            <ScriptCard key={pkg.name} pkg={pkg} />
          ))}
        </Stack>
      )}
      {scripts.hasNextPage && (
        <Group justify="center">
          <Button
            variant="default"
            onClick={() => void scripts.fetchNextPage()}
            loading={scripts.isFetchingNextPage}
          >
            Load more scripts
          </Button>
        </Group>
      )}
    </Stack>
  );
}

function ScriptCard({ pkg }: { pkg: PackageSummary }) {
  return (
    <Paper component="li" withBorder p="md" radius="md" aria-label={pkg.name}>
      <Stack gap={6}>
        <Group gap="xs" wrap="wrap">
          <Anchor component={Link} to={scriptHref(pkg.name)} fw={700} ff="monospace">
            {pkg.name}
          </Anchor>
          <Badge variant="light" color="gray" tt="none">
            {pkg.latestYanked ? `${pkg.latest} (yanked)` : pkg.latest}
          </Badge>
          {pkg.deprecated !== null && (
            <Badge color="orange" variant="light">
              Deprecated
            </Badge>
          )}
          {pkg.latestYanked ? (
            <Badge color="red" variant="light">
              Every version yanked
            </Badge>
          ) : (
            pkg.yankedVersions > 0 && (
              <Badge color="red" variant="outline">
                {pkg.yankedVersions === 1
                  ? '1 version yanked'
                  : `${pkg.yankedVersions} versions yanked`}
              </Badge>
            )
          )}
          <Badge variant="outline" color="gray" tt="none">
            {visibilityLabel(pkg.visibility)}
          </Badge>
        </Group>
        {pkg.description && (
          <Text size="sm" className="server-text" data-testid="script-description">
            {visibleText(pkg.description)}
          </Text>
        )}
        {pkg.deprecated !== null && (
          <Text size="sm" c="orange" className="server-text">
            Deprecated: {visibleText(pkg.deprecated)}
          </Text>
        )}
        <Group gap="xs" wrap="wrap">
          {pkg.tags.map((tag) => (
            <Anchor
              key={tag}
              component={Link}
              to={scriptsSearchHref({ tag })}
              size="xs"
              aria-label={`Scripts tagged ${tag}`}
            >
              #{tag}
            </Anchor>
          ))}
          <Text size="xs" c="dimmed" component="span">
            by{' '}
            {pkg.owners.map((owner, i) => (
              <span key={owner}>
                {i > 0 && ', '}
                <Anchor
                  component={Link}
                  to={scriptsSearchHref({ owner })}
                  size="xs"
                  aria-label={`Scripts owned by ${owner}`}
                >
                  {owner}
                </Anchor>
              </span>
            ))}
          </Text>
          <Text size="xs" c="dimmed" component="span">
            · updated <TimeAgo iso={pkg.updatedAt} size="xs" c="dimmed" />
          </Text>
        </Group>
      </Stack>
    </Paper>
  );
}

function NoScriptsYet() {
  return (
    <EmptyState title="No scripts yet">
      Publish one from the command line: <Code>tether keys add</Code> registers the key you sign
      releases with, then <Code>tether script publish DIR</Code> publishes the folder that holds its{' '}
      <Code>script.json</Code>. It appears here for everyone its visibility allows.
    </EmptyState>
  );
}

function ClearButton({ label, onClear }: { label: string; onClear: () => void }) {
  return (
    <Button
      variant="subtle"
      color="gray"
      size="compact-xs"
      px={4}
      aria-label={label}
      onClick={onClear}
    >
      <IconX size={14} aria-hidden />
    </Button>
  );
}

/**
 * The filter lives in the URL (links to a tag or an owner, the back button); the inputs keep a
 * draft that reaches the URL once typing settles. A URL changed by a link replaces the draft.
 */
function useFilterInUrl(): [Draft, (draft: Draft) => void, PackageFilter] {
  const [params, setParams] = useSearchParams();
  const fromUrl: Draft = {
    q: params.get('q') ?? '',
    tag: params.get('tag') ?? '',
    owner: params.get('owner') ?? '',
  };
  const urlKey = FIELDS.map((f) => fromUrl[f]).join('\u0000');
  const [draft, setDraft] = useState<Draft>(fromUrl);
  const pushed = useRef(urlKey);

  useEffect(() => {
    // Our own push coming back must not undo what was typed meanwhile.
    if (urlKey !== pushed.current) setDraft(fromUrl);
    pushed.current = urlKey;
  }, [urlKey]); // urlKey stands for fromUrl, a new object on every render

  useEffect(() => {
    const timer = setTimeout(() => {
      const next = FIELDS.map((f) => draft[f].trim()).join('\u0000');
      if (next === urlKey) return;
      pushed.current = next;
      const search = new URLSearchParams();
      for (const f of FIELDS) if (draft[f].trim()) search.set(f, draft[f].trim());
      setParams(search, { replace: true });
    }, SEARCH_DELAY_MS);
    return () => clearTimeout(timer);
  }, [draft]); // only typing starts the wait; a URL change alone pushes nothing

  const filter: PackageFilter = {
    q: fromUrl.q || undefined,
    tag: fromUrl.tag || undefined,
    owner: fromUrl.owner || undefined,
  };
  return [draft, setDraft, filter];
}
