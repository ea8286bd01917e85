/**
 * One script package (`/scripts/NAME@VERSION/PATH`): what it is, who owns it and may run it,
 * its files with the README first, its versions, dependencies and the servers that fetched it.
 */
import { useQuery } from '@tanstack/react-query';
import {
  Alert,
  Anchor,
  Badge,
  Breadcrumbs,
  Button,
  Grid,
  Group,
  Select,
  Stack,
  Tabs,
  Text,
  Title,
} from '@mantine/core';
import { IconAlertTriangle, IconArchive } from '@tabler/icons-react';
import { Link, useLocation, useNavigate, useSearchParams } from 'react-router';
import { ErrorState, Loading } from '../common/states.tsx';
import { TimeAgo } from '../common/time-ago.tsx';
import { visibleText } from '../common/visible-text.ts';
import { NotFoundPage } from '../layout/not-found-page.tsx';
import { AgentFetches } from './agent-fetches.tsx';
import { PackageAbout } from './package-about.tsx';
import { PackageDependencies } from './package-dependencies.tsx';
import { PackageFiles } from './package-files.tsx';
import { PackageVersions } from './package-versions.tsx';
import { parseScriptPath, scriptHref, SCRIPTS_ROOT, type ScriptLocation } from './script-paths.ts';
import { scriptsApi, type PackageDetail, type VersionDetail } from './scripts-api.ts';
import { visibilityLabel } from './visibility-labels.ts';
import './scripts.css';

const TABS = ['files', 'versions', 'dependencies', 'servers'] as const;
type Tab = (typeof TABS)[number];

export function PackagePage() {
  const { pathname } = useLocation();
  const where = parseScriptPath(pathname.slice(SCRIPTS_ROOT.length + 1));
  if (!where) return <NotFoundPage />;
  return <PackageView key={where.name} where={where} />;
}

function PackageView({ where }: { where: ScriptLocation }) {
  const pkg = useQuery({
    queryKey: ['script', where.name],
    queryFn: () => scriptsApi.package(where.name),
  });
  const version = where.version ?? pkg.data?.latest;
  const detail = useQuery({
    queryKey: ['script', where.name, version],
    queryFn: () => scriptsApi.version(where.name, version!),
    enabled: version !== undefined,
  });

  if (pkg.isPending) return <Loading label={`Loading ${where.name}…`} />;
  if (pkg.isError)
    return (
      <ErrorState
        title="Cannot show this script"
        error={pkg.error}
        onRetry={() => void pkg.refetch()}
        action={<BackToScripts />}
      />
    );

  return (
    <Stack>
      <Breadcrumbs>
        <Anchor component={Link} to={SCRIPTS_ROOT}>
          Scripts
        </Anchor>
        <Text ff="monospace" aria-current="page">
          {pkg.data.name}
        </Text>
      </Breadcrumbs>
      <Header pkg={pkg.data} version={version!} detail={detail.data} />
      {detail.isPending && <Loading label={`Loading version ${version}…`} />}
      {detail.isError && (
        <ErrorState
          title={`Cannot show version ${version}`}
          error={detail.error}
          onRetry={() => void detail.refetch()}
          action={
            <Button component={Link} to={scriptHref(pkg.data.name)} size="xs" variant="light">
              Show the latest version
            </Button>
          }
        />
      )}
      {detail.data && <Body pkg={pkg.data} detail={detail.data} where={where} />}
    </Stack>
  );
}

function Header({
  pkg,
  version,
  detail,
}: {
  pkg: PackageDetail;
  version: string;
  detail: VersionDetail | undefined;
}) {
  const navigate = useNavigate();
  const [search] = useSearchParams();
  const choices = pkg.versions.map((v) => ({
    value: v.version,
    label: v.yanked ? `${v.version} (yanked)` : v.version,
  }));

  return (
    <Stack gap="xs">
      <Group justify="space-between" align="flex-end" wrap="wrap">
        <Group gap="sm" wrap="wrap">
          <Title order={1} size="h2" ff="monospace" className="hash-text">
            {pkg.name}
          </Title>
          {version === pkg.latest && !detail?.yanked && (
            <Badge variant="light" color="green">
              Latest
            </Badge>
          )}
          {detail?.yanked && (
            <Badge color="red" variant="filled">
              Yanked
            </Badge>
          )}
          {pkg.deprecated !== null && (
            <Badge color="orange" variant="light">
              Deprecated
            </Badge>
          )}
          <Badge variant="outline" color="gray" tt="none">
            {visibilityLabel(detail?.visibility ?? pkg.visibility)}
          </Badge>
        </Group>
        <Select
          label="Version"
          data={choices}
          value={version}
          allowDeselect={false}
          w={200}
          onChange={(value) =>
            value && navigate(`${scriptHref(pkg.name, value)}${search.size ? `?${search}` : ''}`)
          }
        />
      </Group>
      {(detail?.manifest.description ?? pkg.description) && (
        <Text className="server-text" data-testid="script-description">
          {visibleText(detail?.manifest.description ?? pkg.description)}
        </Text>
      )}
      {pkg.deprecated !== null && (
        <Alert
          color="orange"
          variant="light"
          icon={<IconArchive aria-hidden />}
          title="This script is deprecated"
        >
          <Text size="sm" className="server-text" data-testid="deprecation">
            {visibleText(pkg.deprecated)}
          </Text>
        </Alert>
      )}
      {detail?.yanked && (
        <Alert
          color="red"
          variant="light"
          icon={<IconAlertTriangle aria-hidden />}
          title={`Version ${detail.version} was yanked`}
          data-testid="yanked-version"
        >
          <Stack gap={4}>
            <Text size="sm" className="server-text">
              Reason: {visibleText(detail.yanked.reason)}
            </Text>
            <Text size="sm" c="dimmed">
              {detail.yanked.by ? `Yanked by ${detail.yanked.by} ` : 'Yanked '}
              <TimeAgo iso={detail.yanked.at} size="sm" />. Dependencies no longer resolve to it; it
              stays readable here and by its hash.
            </Text>
          </Stack>
        </Alert>
      )}
    </Stack>
  );
}

function Body({
  pkg,
  detail,
  where,
}: {
  pkg: PackageDetail;
  detail: VersionDetail;
  where: ScriptLocation;
}) {
  const [search, setSearch] = useSearchParams();
  const asked = search.get('tab');
  const tab: Tab = TABS.includes(asked as Tab) ? (asked as Tab) : 'files';
  const deps = Object.keys(detail.manifest.dependencies).length;

  return (
    <Grid gutter="lg">
      <Grid.Col span={{ base: 12, md: 8 }}>
        <Tabs
          value={tab}
          onChange={(value) => {
            const next = new URLSearchParams(search);
            if (value === 'files' || !value) next.delete('tab');
            else next.set('tab', value);
            setSearch(next, { replace: true });
          }}
          keepMounted={false}
        >
          <Tabs.List mb="md">
            <Tabs.Tab value="files">Files</Tabs.Tab>
            <Tabs.Tab value="versions">Versions ({pkg.versions.length})</Tabs.Tab>
            <Tabs.Tab value="dependencies">Dependencies ({deps})</Tabs.Tab>
            <Tabs.Tab value="servers">Runs on servers</Tabs.Tab>
          </Tabs.List>
          <Tabs.Panel value="files">
            <PackageFiles name={pkg.name} version={detail.version} path={where.path} />
          </Tabs.Panel>
          <Tabs.Panel value="versions">
            <PackageVersions pkg={pkg} current={detail.version} />
          </Tabs.Panel>
          <Tabs.Panel value="dependencies">
            <PackageDependencies detail={detail} />
          </Tabs.Panel>
          <Tabs.Panel value="servers">
            <AgentFetches pkg={pkg} />
          </Tabs.Panel>
        </Tabs>
      </Grid.Col>
      <Grid.Col span={{ base: 12, md: 4 }}>
        <PackageAbout pkg={pkg} detail={detail} />
      </Grid.Col>
    </Grid>
  );
}

function BackToScripts() {
  return (
    <Button component={Link} to={SCRIPTS_ROOT} size="xs" variant="light" color="red">
      Back to scripts
    </Button>
  );
}
