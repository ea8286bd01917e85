/**
 * `/servers/:agentId/files/:sessionId`: one file session. Its engineer browses, opens, edits and
 * saves; everyone else who may see the server follows read-only over the live socket: the
 * folder, the open file, the engineer's cursor and each edit as it is typed.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
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
import type { FileLiveRole, FileLiveServerMessage } from '@tether/protocol';
import { FILE_LIVE_TEXT } from '@tether/protocol/file-live-frames';
import { ApiError } from '../api/client.ts';
import { useUser } from '../auth/session.tsx';
import { ErrorState, errorAdvice, Loading } from '../common/states.tsx';
import { visibleText } from '../common/visible-text.ts';
import { agentQuery } from '../servers/queries.ts';
import { AccessState, useAccessRequest } from './access-request.tsx';
import { FileBrowser } from './file-browser.tsx';
import {
  FileLiveConnection,
  fileSocketUrl,
  type LiveFile,
  type LiveStatus,
} from './file-live-socket.ts';
import { ROOT, nameOf, type FileRef } from './file-paths.ts';
import { FileViewer } from './file-viewer.tsx';
import { filesApi, type Entry, type FileSession } from './files-api.ts';
import { PEER_COLORS } from './peer-cursors.ts';

/**
 * After `hello`, the endpoint sends the room's folder and file at once if it has them. An editor
 * that reconnects to a room that was freed meanwhile re-announces its own after this long.
 */
const REJOIN_MS = 300;

type Person = Extract<FileLiveServerMessage, { type: 'watchers' }>['people'][number];

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
  const [status, setStatus] = useState<LiveStatus>('connecting');
  const [closeReason, setCloseReason] = useState<string | null>(null);
  const [role, setRole] = useState<FileLiveRole | null>(null);
  const [cwd, setCwd] = useState<FileRef | null>(null);
  const [file, setFile] = useState<LiveFile | null>(null);
  const [opening, setOpening] = useState<string | null>(null);
  const [watchers, setWatchers] = useState<Person[]>([]);
  const [observed, setObserved] = useState<{ entries: Entry[]; truncated: boolean } | null>(null);
  const [ended, setEnded] = useState<{ by: string | null; reason: string } | null>(null);
  const [baseHash, setBaseHash] = useState<string | null>(null);
  const [dirty, setDirty] = useState(false);
  const [confirm, setConfirm] = useState<{ what: string; run: () => void } | null>(null);
  const connection = useRef<FileLiveConnection | null>(null);
  const state = useRef({ cwd: null as FileRef | null, openPath: null as string | null });
  const baseText = useRef<string | null>(null);
  const lastListing = useRef<{ path: string; entries: Entry[] } | null>(null);
  const textNow = useRef('');

  const live = session.status === 'live' && !ended;
  const roots = session.roots ?? [];
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

  const measure = useCallback((text: string) => {
    textNow.current = text;
    setDirty(baseText.current !== null && text !== baseText.current);
  }, []);

  useEffect(() => {
    if (!live) return;
    let conn: FileLiveConnection | null = null;
    let rejoin: ReturnType<typeof setTimeout> | null = null;
    let heard = { cwd: false, open: false };
    // Deferred a tick, so a mount that is at once undone (StrictMode) never opens a socket.
    const timer = setTimeout(() => {
      conn = new FileLiveConnection({
        url: fileSocketUrl(window.location, session.id),
        user: { name: user.username, color: colorOf(user.id) },
        onStatus: (next, close) => {
          setStatus(next);
          if (next === 'closed' && close) setCloseReason(close.reason || null);
        },
        onFile: (next) => {
          setFile(next);
          setOpening(null);
          state.current.openPath = next?.meta.path ?? null;
          setBaseHash(next?.meta.hash ?? null);
          baseText.current = next && !next.doc ? '' : null;
          setDirty(false);
        },
        onSynced: (synced) => {
          if (conn?.file !== synced || !synced.doc) return;
          baseText.current = synced.doc.getText(FILE_LIVE_TEXT).toString();
          measure(baseText.current);
        },
        onControl: (message) => {
          switch (message.type) {
            case 'hello':
              setRole(message.role);
              heard = { cwd: false, open: false };
              if (message.role === 'editor') {
                if (rejoin) clearTimeout(rejoin);
                rejoin = setTimeout(() => {
                  const { cwd: mine, openPath } = state.current;
                  if (!heard.cwd) {
                    // A first visit starts in the first folder the account allows, or at /.
                    const start = mine ?? (roots[0] ? { path: roots[0] } : ROOT);
                    announceCwd(conn, start, setCwd, state);
                    const listed = lastListing.current;
                    if (listed && listed.path === start.path)
                      conn?.listing(listed.path, listed.entries);
                  }
                  if (!heard.open && openPath) conn?.open(openPath);
                }, REJOIN_MS);
              }
              return;
            case 'cwd':
              heard.cwd = true;
              if (message.path !== state.current.cwd?.path) setObserved(null);
              state.current.cwd = { path: message.path };
              return setCwd({ path: message.path });
            case 'listing':
              if (message.path === state.current.cwd?.path)
                setObserved({ entries: message.entries, truncated: message.truncated });
              return;
            case 'open':
              heard.open = true;
              return;
            case 'saved':
              if (message.path === state.current.openPath) {
                setBaseHash(message.hash);
                baseText.current = textNow.current;
                setDirty(false);
              }
              return;
            case 'watchers':
              return setWatchers(message.people);
            case 'ended':
              setEnded({ by: message.by, reason: message.reason });
              void client.invalidateQueries({ queryKey: ['file-session', session.id] });
              void client.invalidateQueries({ queryKey: ['file-sessions', session.agentId] });
              return;
            case 'error':
              setOpening(null);
              notifications.show({
                color: 'red',
                title: 'The server refused',
                message: `${visibleText(message.error.message)}.`,
              });
              return;
          }
        },
      });
      connection.current = conn;
    }, 0);
    return () => {
      clearTimeout(timer);
      if (rejoin) clearTimeout(rejoin);
      conn?.stop();
      connection.current = null;
    };
  }, [session.id, session.agentId, live, user.username, user.id, client, measure]);

  const onListed = useCallback((path: string, entries: Entry[]) => {
    lastListing.current = { path, entries };
    connection.current?.listing(path, entries);
  }, []);
  const guarded = (what: string, run: () => void) =>
    dirty && editor ? setConfirm({ what, run }) : run();
  const openDir = (dir: FileRef) => announceCwd(connection.current, dir, setCwd, state);
  const openFile = (ref: FileRef, entry: Entry) => {
    if (ref.b64) {
      notifications.show({
        color: 'yellow',
        message: `${visibleText(entry.name)} has a name that is not valid UTF-8: download it instead.`,
      });
      return;
    }
    if (ref.path === state.current.openPath) return;
    guarded(`open ${nameOf(ref.path)}`, () => {
      if (!connection.current?.open(ref.path)) {
        notifications.show({
          color: 'red',
          message: 'Not connected: wait a moment, then try again.',
        });
        return;
      }
      setOpening(ref.path);
    });
  };
  const end = useMutation({
    mutationFn: () => filesApi.endSession(session.id),
    onSuccess: () => setEnded({ by: user.username, reason: 'ended' }),
    onError: (error) =>
      notifications.show({ color: 'red', title: 'Not ended', message: errorAdvice(error) }),
  });

  const mayEnd = live && (editor || user.role === 'customer');
  const canSave = editor && session.canWrite && !writesOff;
  const saveBlocked = !session.canWrite
    ? 'Ask to change files first: the customer approves saving'
    : writesOff
      ? 'The account has switched file writes off'
      : null;
  const others = watchers.filter((p) => p.username !== user.username);

  if (ended || session.status !== 'live')
    return (
      <Alert
        color="gray"
        variant="light"
        title="This file session has ended"
        data-testid="session-ended"
      >
        <Stack gap="xs" align="flex-start">
          <Text size="sm">
            {ended?.by ? `Ended by ${visibleText(ended.by)}.` : 'It is over.'} What was opened,
            saved and changed is in the server’s file history.
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
              color={status === 'live' ? 'green' : status === 'closed' ? 'red' : 'yellow'}
              data-testid="live-state"
            >
              {status === 'live' ? 'Live' : status === 'closed' ? 'Disconnected' : 'Connecting'}
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
                write.ask.mutate(state.current.openPath ?? state.current.cwd?.path);
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
      {status === 'reconnecting' && (
        <Alert
          color="yellow"
          variant="light"
          icon={<IconPlugConnectedX aria-hidden />}
          role="status"
        >
          The live connection dropped; reconnecting…
        </Alert>
      )}
      {status === 'closed' && (
        <Alert
          color="red"
          variant="light"
          icon={<IconPlugConnectedX aria-hidden />}
          role="alert"
          title="Disconnected"
        >
          {closeReason === 'replaced'
            ? 'You opened this session in another tab or window; it carries on there.'
            : 'The live connection closed. Reload the page to reconnect.'}
        </Alert>
      )}

      <Grid gutter="md">
        <Grid.Col span={{ base: 12, lg: 5 }}>
          {cwd ? (
            <FileBrowser
              session={session.id}
              dir={cwd}
              editor={editor}
              canWrite={canSave}
              openPath={file?.meta.path ?? opening}
              observed={observed}
              editorName={session.username}
              onOpenDir={(dir) => (editor ? openDir(dir) : undefined)}
              onOpenFile={openFile}
              onListed={onListed}
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
            opening={opening}
            editor={editor}
            canSave={canSave}
            saveBlocked={saveBlocked}
            readOnly={!editor || Boolean(writesOff)}
            dirty={dirty}
            editorName={session.username}
            baseHash={baseHash}
            onChange={measure}
            currentText={() => textNow.current}
            onSaved={(answer, content) => {
              setBaseHash(answer.hash);
              baseText.current = content;
              measure(textNow.current);
              notifications.show({
                color: 'green',
                message: `Saved ${visibleText(nameOf(file?.meta.path ?? ''))}.`,
              });
              void client.invalidateQueries({ queryKey: ['file-events', session.agentId] });
            }}
            onReload={() => {
              const path = state.current.openPath;
              if (path && connection.current?.open(path)) setOpening(path);
            }}
            onClose={() => guarded('close the file', () => connection.current?.closeFile())}
          />
        </Grid.Col>
      </Grid>

      {confirm && (
        <Modal opened onClose={() => setConfirm(null)} title="Unsaved changes">
          <Stack>
            <Text size="sm">
              Your changes to {visibleText(nameOf(state.current.openPath ?? ''))} are not saved. If
              you {confirm.what}, they are lost.
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

/** Moves the editor's folder and tells the watchers; a name that is not UTF-8 stays local. */
function announceCwd(
  conn: FileLiveConnection | null,
  dir: FileRef,
  setCwd: (dir: FileRef) => void,
  state: { current: { cwd: FileRef | null } },
): void {
  state.current.cwd = dir;
  setCwd(dir);
  if (!dir.b64) conn?.cwd(dir.path);
}

/** The same person gets the same cursor colour everywhere. */
function colorOf(id: string): number {
  let hash = 0;
  for (const char of id) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return hash % PEER_COLORS;
}
