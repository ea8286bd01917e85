/** The frame around every signed-in page: header with who is signed in, navigation, live banner. */
import { Outlet, NavLink as RouterLink, useLocation } from 'react-router';
import {
  Anchor,
  AppShell,
  Badge,
  Burger,
  Button,
  Group,
  NavLink,
  Text,
  Tooltip,
  VisuallyHidden,
} from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { IconLifebuoy, IconLogout, IconScript, IconServer2 } from '@tabler/icons-react';
import { useSignOut, useUser } from '../auth/session.tsx';
import { ApprovalPrompts } from '../consent/approval-prompts.tsx';
import { LiveBanner, LiveProvider } from '../live/live-provider.tsx';
import { ROLE_LABELS } from './roles.ts';

/**
 * The site's sections. The ticket page, chat, terminal sessions and playback join this list when
 * their pages are built on the endpoint's APIs; until then they are absent, not placeholders.
 */
const SECTIONS = [
  { to: '/servers', label: 'Servers', icon: IconServer2 },
  { to: '/tickets', label: 'Support requests', icon: IconLifebuoy },
  { to: '/scripts', label: 'Scripts', icon: IconScript },
] as const;

export function AppLayout() {
  const signOut = useSignOut();
  const location = useLocation();
  const [opened, { toggle, close }] = useDisclosure(false);

  return (
    <LiveProvider>
      <Anchor href="#main" className="skip-link">
        Skip to content
      </Anchor>
      <AppShell
        header={{ height: 56 }}
        navbar={{ width: 220, breakpoint: 'sm', collapsed: { mobile: !opened } }}
        padding="md"
      >
        <AppShell.Header>
          <Group h="100%" px="md" justify="space-between" wrap="nowrap">
            <Group gap="sm" wrap="nowrap">
              <Burger
                opened={opened}
                onClick={toggle}
                hiddenFrom="sm"
                size="sm"
                aria-label={opened ? 'Close navigation' : 'Open navigation'}
              />
              <Text fw={700} size="lg" component="span">
                Tether
              </Text>
            </Group>
            <Group gap="sm" wrap="nowrap">
              <Group gap="sm" wrap="nowrap" visibleFrom="sm" data-testid="signed-in-user">
                <WhoIsSignedIn />
              </Group>
              <Button
                variant="subtle"
                size="xs"
                leftSection={<IconLogout size={16} aria-hidden />}
                loading={signOut.isPending}
                onClick={() => signOut.mutate()}
              >
                Sign out
              </Button>
            </Group>
          </Group>
        </AppShell.Header>

        <AppShell.Navbar p="xs" aria-label="Main">
          <Group gap="sm" p="sm" hiddenFrom="sm" wrap="nowrap">
            <WhoIsSignedIn />
          </Group>
          {SECTIONS.map(({ to, label, icon: Icon }) => (
            <NavLink
              key={to}
              component={RouterLink}
              to={to}
              label={label}
              leftSection={<Icon size={18} aria-hidden />}
              active={location.pathname.startsWith(to)}
              onClick={close}
            />
          ))}
        </AppShell.Navbar>

        <AppShell.Main id="main" tabIndex={-1}>
          <LiveBanner />
          <Outlet />
          <ApprovalPrompts />
        </AppShell.Main>
      </AppShell>
    </LiveProvider>
  );
}

function WhoIsSignedIn() {
  const user = useUser();
  return (
    <>
      <VisuallyHidden>Signed in as</VisuallyHidden>
      <Tooltip label={`@${user.username}`}>
        <Text size="sm" truncate maw={180}>
          {user.displayName || user.username}
        </Text>
      </Tooltip>
      <Badge variant="light" color={user.role === 'customer' ? 'teal' : 'grape'}>
        {ROLE_LABELS[user.role]}
      </Badge>
    </>
  );
}
