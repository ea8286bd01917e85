/**
 * `/servers/:agentId/files/:sessionId`: one file session. Its engineer browses, opens, edits and
 * saves; everyone else who may see the server follows read-only over the live socket: the
 * folder, the open file, the engineer's cursor and each edit as it is typed.
 */
import { useEffect, useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import {
  Alert,
  Anchor,
  Badge,
  Breadcrumbs,
  Button,
  Grid,
  Group,
  Modal,
  Stack,
  Text,
  Title,
} from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { IconEye, IconPencil, IconPlugConnectedX } from '@tabler/icons-react';
import { Link, useParams, useSearchParams } from 'react-router';
import { ApiError } from '../api/client.ts';
import { useUser } from '../auth/session.tsx';
import { ErrorState, errorAdvice, Loading } from '../common/states.tsx';
import { visibleText } from '../common/visible-text.ts';
import { agentQuery } from '../servers/queries.ts';
import { AccessState, useAccessRequest } from './access-request.tsx';
import { FileBrowser } from './file-browser.tsx';
import { nameOf, type FileRef } from './file-paths.ts';
import { FileViewer } from './file-viewer.tsx';
import { filesApi, type Entry, type FileSession } from './files-api.ts';
import { useFileLive } from './use-file-live.ts';

export function FileSessionPage() {
  const { agentId = '', sessionId = '' } = useParams();
  const [search] = useSearchParams();
  const ticket = search.get('ticket') ?? undefined;
  const agent = useQuery(agentQuery(agentId));
  const sessions = useQuery({
    queryKey: ['file-session', sessionId],
    queryFn: () => filesApi.session(sessionId),
    // Write access and the end also arrive live; this poll covers a paused socket.
    refetchInterval: 10_000,
  });
  const session = sessions.data?.agentId === agentId ? sessions.data : undefined;
  const serverName = agent.data ? visibleText(agent.data.name) : 'Server';
  const filesHref = `/servers/${encodeURIComponent(agentId)}/files${ticket ? `?ticket=${encodeURIComponent(ticket)}` : ''}`;

  return (
    <Stack>
      <Breadcrumbs>
        <Anchor component={Link} to="/servers">
          Servers
        </Anchor>
        <Anchor component={Link} to={`/servers/${encodeURIComponent(agentId)}`}>
          {serverName}
        </Anchor>
        <Anchor component={Link} to={filesHref}>
          Files
        </Anchor>
        <Text>Session</Text>
      </Breadcrumbs>
      {sessions.isPending && <Loading label="Loading the file session…" />}
      {sessions.isError && (
        <ErrorState
          title="Cannot show this file session"
          error={sessions.error}
          onRetry={() => void sessions.refetch()}
        />
      )}
      {sessions.data && !session && (
        <ErrorState
          title="No such file session"
          error={new ApiError('not_found', 'no such file session', 404)}
          action={
            <Button size="xs" variant="default" component={Link} to={filesHref}>
              Back to the server’s files
            </Button>
          }
        />
      )}
      {session && (
        <SessionView
          key={session.id}
          session={session}
          serverName={serverName}
          ticket={ticket}
          filesHref={filesHref}
        />
      )}
    </Stack>
  );
}

function SessionView({
  session,
  serverName,
  ticket,
  filesHref,
}: {
  session: FileSession;
  serverName: string;
  ticket?: string;
  filesHref: string;
}) {
  const user = useUser();
  const client = useQueryClient();
  const [confirm, setConfirm] = useState<{ what: string; run: () => void } | null>(null);
  const live = useFileLive(session, user);
  const { role, file, dirty } = live;
  const editor = role === 'editor';
  const write = useAccessRequest(session.agentId, 'files.write', ticket);
  const grant = useMutation({
    mutationFn: (approval: string) => filesApi.grantWrite(session.id, approval),
    onSuccess: (updated) => {
      client.setQueryData<FileSession>(['file-session', updated.id], updated);
      void client.invalidateQueries({ queryKey: ['file-sessions', session.agentId] });
      notifications.show({ color: 'green', message: 'You may change files now.' });
    },
  });
  const writeApproved = write.approval?.status === 'approved' ? write.approval.id : null;
  useEffect(() => {
    if (writeApproved && grant.isIdle) grant.mutate(writeApproved);
  }, [writeApproved, grant]);
  const writesOff =
    write.error instanceof ApiError && write.error.code === 'forbidden' ? write.error : null;

  const guarded = (what: string, run: () => void) =>
    dirty && editor ? setConfirm({ what, run }) : run();
  const openFile = (ref: FileRef, entry: Entry) => {
    if (ref.b64) {
      notifications.show({
        color: 'yellow',
        message: `${visibleText(entry.name)} has a name that is not valid UTF-8: download it instead.`,
      });
      return;
    }
    if (ref.path === live.openPath) return;
    guarded(`open ${nameOf(ref.path)}`, () => void live.open(ref.path));
  };
  const end = useMutation({
    mutationFn: () => filesApi.endSession(session.id),
    onSuccess: () => live.setEnded({ by: user.username, reason: 'ended' }),
    onError: (error) =>
      notifications.show({ color: 'red', title: 'Not ended', message: errorAdvice(error) }),
  });

  const mayEnd = live.live && (editor || user.role === 'customer');
  const canSave = editor && session.canWrite && !writesOff;
  const saveBlocked = !session.canWrite
    ? 'Ask to change files first: the customer approves saving'
    : writesOff
      ? 'The account has switched file writes off'
      : null;
  const others = live.watchers.filter((p) => p.username !== user.username);

  if (live.ended || session.status !== 'live')
    return (
      <Alert
        color="gray"
        variant="light"
        title="This file session has ended"
        data-testid="session-ended"
      >
        <Stack gap="xs" align="flex-start">
          <Text size="sm">
            {live.ended?.by ? `Ended by ${visibleText(live.ended.by)}.` : 'It is over.'} What was
            opened, saved and changed is in the server’s file history.
          </Text>
          <Button size="xs" variant="light" component={Link} to={filesHref}>
            See the file history
          </Button>
        </Stack>
      </Alert>
    );

  return (
    <>
      <Group justify="space-between" align="flex-start">
        <Stack gap={4}>
          <Group gap="sm">
            <Title order={1} size="h2" className="server-text">
              Files on {serverName}
            </Title>
            <Badge
              color={live.status === 'live' ? 'green' : live.status === 'closed' ? 'red' : 'yellow'}
              data-testid="live-state"
            >
              {live.status === 'live'
                ? 'Live'
                : live.status === 'closed'
                  ? 'Disconnected'
                  : 'Connecting'}
            </Badge>
          </Group>
          {others.length > 0 && (
            <Text size="sm" c="dimmed" data-testid="watchers">
              {editor ? 'Watching you: ' : 'Also here: '}
              {others.map((p) => visibleText(p.username)).join(', ')}
            </Text>
          )}
        </Stack>
        <Group gap="sm">
          {editor && !session.canWrite && !writesOff && (
            <Button
              variant="light"
              leftSection={<IconPencil size={16} aria-hidden />}
              loading={
                write.ask.isPending || write.approval?.status === 'pending' || grant.isPending
              }
              onClick={() => {
                write.reset();
                grant.reset();
                write.ask.mutate(live.openPath ?? live.cwd?.path);
              }}
            >
              Ask to change files
            </Button>
          )}
          {mayEnd && (
            <Button
              color="red"
              variant="light"
              loading={end.isPending}
              onClick={() => end.mutate()}
            >
              End session
            </Button>
          )}
        </Group>
      </Group>

      {role === 'observer' && (
        <Alert
          color="blue"
          variant="filled"
          icon={<IconEye aria-hidden />}
          title={`Read-only: you are watching ${visibleText(session.username)}`}
          data-testid="read-only"
        >
          You follow the folder they are in, the file they open and what they type. Nothing you type
          here reaches the server.
        </Alert>
      )}
      {editor && (
        <AccessState
          action="files.write"
          approval={write.approval}
          error={write.error}
          serverName={serverName}
        />
      )}
      {grant.isError && <ErrorState title="Write access not granted" error={grant.error} />}
      {live.status === 'reconnecting' && (
        <Alert
          color="yellow"
          variant="light"
          icon={<IconPlugConnectedX aria-hidden />}
          role="status"
        >
          The live connection dropped; reconnecting…
        </Alert>
      )}
      {live.status === 'closed' && (
        <Alert
          color="red"
          variant="light"
          icon={<IconPlugConnectedX aria-hidden />}
          role="alert"
          title="Disconnected"
        >
          {live.closeReason === 'replaced'
            ? 'You opened this session in another tab or window; it carries on there.'
            : 'The live connection closed. Reload the page to reconnect.'}
        </Alert>
      )}

      <Grid gutter="md">
        <Grid.Col span={{ base: 12, lg: 5 }}>
          {live.cwd ? (
            <FileBrowser
              session={session.id}
              dir={live.cwd}
              editor={editor}
              canWrite={canSave}
              openPath={file?.meta.path ?? live.opening}
              observed={live.observed}
              editorName={session.username}
              onOpenDir={(dir) => (editor ? live.openDir(dir) : undefined)}
              onOpenFile={openFile}
              onListed={live.onListed}
            />
          ) : (
            <Loading
              label={
                editor || role === null
                  ? 'Connecting…'
                  : `Waiting for ${visibleText(session.username)} to open a folder…`
              }
            />
          )}
        </Grid.Col>
        <Grid.Col span={{ base: 12, lg: 7 }}>
          <FileViewer
            session={session.id}
            file={file}
            opening={live.opening}
            editor={editor}
            canSave={canSave}
            saveBlocked={saveBlocked}
            readOnly={!editor || Boolean(writesOff)}
            dirty={dirty}
            editorName={session.username}
            baseHash={live.baseHash}
            onChange={live.measure}
            currentText={live.text}
            onSaved={(answer, content) => {
              live.saved(answer.hash, content);
              notifications.show({
                color: 'green',
                message: `Saved ${visibleText(nameOf(file?.meta.path ?? ''))}.`,
              });
              void client.invalidateQueries({ queryKey: ['file-events', session.agentId] });
            }}
            onReload={() => {
              if (live.openPath) live.open(live.openPath);
            }}
            onClose={() => guarded('close the file', () => void live.closeFile())}
          />
        </Grid.Col>
      </Grid>

      {confirm && (
        <Modal opened onClose={() => setConfirm(null)} title="Unsaved changes">
          <Stack>
            <Text size="sm">
              Your changes to {visibleText(nameOf(live.openPath ?? ''))} are not saved. If you{' '}
              {confirm.what}, they are lost.
            </Text>
            <Group justify="flex-end">
              <Button variant="default" onClick={() => setConfirm(null)} data-autofocus>
                Keep editing
              </Button>
              <Button
                color="red"
                onClick={() => {
                  confirm.run();
                  setConfirm(null);
                }}
              >
                Lose my changes
              </Button>
            </Group>
          </Stack>
        </Modal>
      )}
    </>
  );
}
