/** "Add a server": a join token for an account and the one-liner that installs the agent. */
import { useState } from 'react';
import { useMutation, useQuery } from '@tanstack/react-query';
import {
  ActionIcon,
  Alert,
  Button,
  Code,
  CopyButton,
  Group,
  Modal,
  Select,
  Stack,
  Text,
  Tooltip,
} from '@mantine/core';
import { IconCheck, IconCopy } from '@tabler/icons-react';
import { api } from '../api/client.ts';
import type { JoinToken } from '../api/types.ts';
import { useUser } from '../auth/session.tsx';
import { ErrorState, Loading } from '../common/states.tsx';
import { TimeAgo } from '../common/time-ago.tsx';
import { absoluteTime } from '../common/relative-time.ts';
import { visibleText } from '../common/visible-text.ts';
import { accountsQuery } from './queries.ts';

export function AddServerModal({ opened, onClose }: { opened: boolean; onClose: () => void }) {
  const [token, setToken] = useState<JoinToken | null>(null);
  const close = () => {
    // The token is shown once; a reopened dialog makes a new one rather than showing a stale one.
    setToken(null);
    onClose();
  };
  return (
    <Modal opened={opened} onClose={close} title="Add a server" size="lg">
      {token ? (
        <InstallCommand token={token} onDone={close} />
      ) : (
        <CreateToken onCreated={setToken} />
      )}
    </Modal>
  );
}

function CreateToken({ onCreated }: { onCreated: (token: JoinToken) => void }) {
  const user = useUser();
  const isAdmin = user.role === 'admin';
  const accounts = useQuery({ ...accountsQuery, enabled: isAdmin });
  const [account, setAccount] = useState<string | null>(null);
  const target = isAdmin ? account : user.accountId;
  const create = useMutation({
    mutationFn: () => api.createJoinToken(target!),
    onSuccess: onCreated,
  });

  return (
    <Stack>
      <Text size="sm">
        Tether makes a single-use join token and a command to run on the server as root. The
        server's agent then connects out to Tether; nothing needs to reach the server from outside.
      </Text>
      {isAdmin && accounts.isPending && <Loading label="Loading accounts…" />}
      {isAdmin && accounts.isError && (
        <ErrorState
          title="Could not load accounts"
          error={accounts.error}
          onRetry={() => void accounts.refetch()}
        />
      )}
      {isAdmin && accounts.data && (
        <Select
          label="Account"
          description="The customer account the server will belong to"
          placeholder={accounts.data.length ? 'Pick an account' : 'No accounts yet'}
          data={accounts.data.map((a) => ({ value: a.id, label: visibleText(a.name) }))}
          value={account}
          onChange={setAccount}
          searchable
          nothingFoundMessage="No account by that name"
          required
        />
      )}
      {create.isError && <ErrorState title="No token was made" error={create.error} />}
      <Group justify="flex-end">
        <Button onClick={() => create.mutate()} loading={create.isPending} disabled={!target}>
          Create install command
        </Button>
      </Group>
    </Stack>
  );
}

function InstallCommand({ token, onDone }: { token: JoinToken; onDone: () => void }) {
  const uses = token.maxUses === 1 ? 'once' : `${token.maxUses} times`;
  return (
    <Stack>
      <Text size="sm">
        Run this on the server for <strong>{visibleText(token.accountName)}</strong>, as root:
      </Text>
      <Group gap="xs" wrap="nowrap" align="flex-start">
        <Code block className="server-text" style={{ flex: 1 }} data-testid="install-command">
          {token.installCommand}
        </Code>
        <CopyButton value={token.installCommand} timeout={2000}>
          {({ copied, copy }) => (
            <Tooltip label={copied ? 'Copied' : 'Copy command'} withArrow>
              <ActionIcon
                variant="light"
                color={copied ? 'teal' : 'blue'}
                size="lg"
                onClick={copy}
                aria-label={copied ? 'Copied' : 'Copy install command'}
              >
                {copied ? <IconCheck size={18} aria-hidden /> : <IconCopy size={18} aria-hidden />}
              </ActionIcon>
            </Tooltip>
          )}
        </CopyButton>
      </Group>
      <Alert variant="light" color="blue">
        <Text size="sm" component="div">
          The token works {uses} and expires <TimeAgo iso={token.expiresAt} inherit fw={600} /> (
          {absoluteTime(token.expiresAt)}). This is the only time it is shown. The server appears in
          your list as soon as its agent connects.
        </Text>
      </Alert>
      <Group justify="flex-end">
        <Button variant="default" onClick={onDone}>
          Done
        </Button>
      </Group>
    </Stack>
  );
}
