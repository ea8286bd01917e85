/**
 * A live terminal. `/terminals/new?agent=&approval=&ticket=` is the engineer's own terminal: it
 * waits for the customer's decision, then opens the engineer socket and moves to
 * `/terminals/SESSION` without reconnecting. `/terminals/SESSION` opened any other way watches,
 * read-only.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import {
  Alert,
  Anchor,
  Badge,
  Breadcrumbs,
  Button,
  Group,
  Loader,
  Paper,
  Stack,
  Text,
  Title,
} from '@mantine/core';
import { IconEye, IconPlayerPlay, IconPlugConnectedX } from '@tabler/icons-react';
import { Link, useNavigate, useParams, useSearchParams } from 'react-router';
import { useUser } from '../auth/session.tsx';
import { ConfirmButton } from '../common/confirm-button.tsx';
import { ErrorState } from '../common/states.tsx';
import { visibleText } from '../common/visible-text.ts';
import { useTopicEvents } from '../live/live-provider.tsx';
import { agentQuery } from '../servers/queries.ts';
import { terminalApi, type Approval } from './terminal-api.ts';
import {
  TerminalConnection,
  engineerSocketPath,
  socketUrl,
  watchSocketPath,
  type TerminalServerMessage,
} from './terminal-frames.ts';
import { TerminalScreen, type ScreenHandle } from './terminal-screen.tsx';

type Ended = Extract<TerminalServerMessage, { type: 'ended' }>;
/**
 * The customer's answer arrives on the live `approvals` topic; this slow poll is only the
 * safety net for a live socket that is down.
 */
const APPROVAL_POLL_MS = 15_000;

export function TerminalPage() {
  const id = useParams().id!;
  const [search] = useSearchParams();
  const navigate = useNavigate();
  const user = useUser();
  // Fixed at mount: moving to /terminals/SESSION keeps this page, and this socket, alive.
  const [own] = useState(() =>
    id === 'new'
      ? {
          approval: search.get('approval') ?? '',
          agent: search.get('agent') ?? '',
          ticket: search.get('ticket'),
        }
      : null,
  );
  const watching = own === null;

  const client = useQueryClient();
  const approvalKey = ['approval', own?.approval];
  const approval = useQuery({
    queryKey: approvalKey,
    queryFn: () => terminalApi.approval(own!.approval),
    enabled: own !== null && own.approval !== '',
    refetchInterval: (q) => (q.state.data?.status === 'pending' ? APPROVAL_POLL_MS : false),
  });
  // The page waits for the customer's decision only. Later changes (this page's own socket
  // using the approval) must not move it: 'used' would close the socket it is opening.
  useTopicEvents('approvals', (event) => {
    const changed = (event as { approval?: Approval } | null)?.approval;
    if (!own || changed?.id !== own.approval) return;
    client.setQueryData<Approval>(approvalKey, (current) =>
      current === undefined || current.status === 'pending' ? changed : current,
    );
  });
  const session = useQuery({
    queryKey: ['terminal', id],
    queryFn: () => terminalApi.session(id),
    enabled: watching,
  });
  const agentId = own?.agent ?? session.data?.agentId ?? '';
  const agent = useQuery({ ...agentQuery(agentId), enabled: agentId !== '' });

  const [screen, setScreen] = useState<ScreenHandle | null>(null);
  const [sessionId, setSessionId] = useState<string | null>(watching ? id : null);
  const [state, setState] = useState<'connecting' | 'live' | 'closed'>('connecting');
  const [ended, setEnded] = useState<Ended | null>(null);
  const [problem, setProblem] = useState<{ code: string; message: string } | null>(null);
  const [keysDropped, setKeysDropped] = useState(false);
  const connection = useRef<TerminalConnection | null>(null);

  const approved = approval.data?.status === 'approved';
  const socketPath = watching
    ? session.data?.status === 'live'
      ? watchSocketPath(id)
      : null
    : approved
      ? 'engineer'
      : null;

  useEffect(() => {
    if (!screen || !socketPath) return;
    const { terminal, fit } = screen;
    let conn: TerminalConnection | null = null;
    // Deferred a tick, so a mount that is at once undone (StrictMode) never opens a socket.
    const timer = setTimeout(() => {
      const size = fit() ?? { cols: 80, rows: 24 };
      const path =
        socketPath === 'engineer' ? engineerSocketPath({ ...own!, ...size }) : socketPath;
      conn = new TerminalConnection({
        url: socketUrl(window.location, path),
        readOnly: watching,
        onOpen: () => setState('live'),
        onBytes: (data, snapshot) => {
          if (snapshot) terminal.reset();
          terminal.write(data);
        },
        onControl: (message) => {
          if (message.type === 'hello') {
            setSessionId(message.session);
            if (!watching) {
              void navigate(`/terminals/${encodeURIComponent(message.session)}`, {
                replace: true,
              });
              terminal.focus();
            }
          }
          if ((message.type === 'snapshot' || message.type === 'resize') && watching)
            terminal.resize(message.cols, message.rows);
          if (message.type === 'ended') setEnded(message);
          // A watcher's keys go to the endpoint, which drops them: that is no failure here.
          if (message.type === 'error' && watching && message.error.code === 'forbidden')
            setKeysDropped(true);
          else if (message.type === 'error') setProblem(message.error);
        },
        onClose: () => setState('closed'),
      });
      connection.current = conn;
    }, 0);
    const input = terminal.onData((data) => conn?.input(data));
    const onResize = () => {
      if (watching) return;
      const size = fit();
      if (size) conn?.resize(size.cols, size.rows);
    };
    window.addEventListener('resize', onResize);
    return () => {
      clearTimeout(timer);
      input.dispose();
      window.removeEventListener('resize', onResize);
      conn?.close();
      connection.current = null;
    };
    // `own` and `navigate` are stable for the page's life; the socket follows the path only.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [screen, socketPath, watching]);

  const end = useMutation({ mutationFn: () => terminalApi.end(sessionId!) });
  const onScreen = useCallback((handle: ScreenHandle | null) => setScreen(handle), []);

  const serverName = agent.data ? visibleText(agent.data.name) : 'Server';
  const mayEnd =
    sessionId !== null && !ended && state === 'live' && (!watching || user.role === 'customer');
  const sessionOver =
    ended !== null || (watching && session.data !== undefined && session.data.status !== 'live');
  const showScreen = watching ? session.data?.status === 'live' : approved || sessionId !== null;

  return (
    <Stack>
      <Breadcrumbs>
        <Anchor component={Link} to="/servers">
          Servers
        </Anchor>
        {agentId && (
          <Anchor component={Link} to={`/servers/${encodeURIComponent(agentId)}`}>
            {serverName}
          </Anchor>
        )}
        <Text>Terminal</Text>
      </Breadcrumbs>
      <Group justify="space-between">
        <Group gap="sm">
          <Title order={1} size="h2" className="server-text">
            Terminal on {serverName}
          </Title>
          {showScreen && !sessionOver && (
            <Badge color={state === 'live' ? 'green' : 'gray'} data-testid="terminal-state">
              {state === 'live' ? 'Live' : state === 'connecting' ? 'Connecting' : 'Disconnected'}
            </Badge>
          )}
        </Group>
        {mayEnd && (
          <ConfirmButton
            color="red"
            variant="light"
            loading={end.isPending}
            title="End this terminal session?"
            message={`The shell on ${serverName} is hung up for everyone in the session. The recording is kept.`}
            confirmLabel="End session"
            onConfirm={() => end.mutate()}
          >
            End session
          </ConfirmButton>
        )}
      </Group>

      {watching && !sessionOver && (
        <Alert
          color="blue"
          variant="filled"
          icon={<IconEye aria-hidden />}
          title="Read-only: you are watching"
          data-testid="read-only"
        >
          Only the engineer types here. Keys you press never reach the server&apos;s shell: the
          endpoint drops them and notes in the activity that you tried.
          {keysDropped && (
            <Text size="sm" fw={600} mt={4} data-testid="keys-dropped">
              Your keys were dropped.
            </Text>
          )}
        </Alert>
      )}

      {own && <ApprovalState approval={approval} serverName={serverName} ticket={own.ticket} />}
      {watching && session.isError && (
        <ErrorState title="Cannot show this terminal" error={session.error} />
      )}
      {end.isError && <ErrorState title="Cannot end the session" error={end.error} />}
      {problem && !ended && (
        <Alert color="red" variant="light" title="The terminal refused" role="alert">
          {visibleText(problem.message)}
        </Alert>
      )}
      {sessionOver && (
        <EndedState ended={ended} fallback={session.data ?? null} sessionId={sessionId ?? id} />
      )}
      {state === 'closed' && !ended && !problem && showScreen && (
        <Alert color="yellow" variant="light" icon={<IconPlugConnectedX aria-hidden />}>
          The connection to the terminal closed.
        </Alert>
      )}
      {showScreen && (
        <TerminalScreen onReady={onScreen} label={watching ? 'Terminal (read-only)' : 'Terminal'} />
      )}
    </Stack>
  );
}

function ApprovalState({
  approval,
  serverName,
  ticket,
}: {
  approval: ReturnType<typeof useQuery<Awaited<ReturnType<typeof terminalApi.approval>>>>;
  serverName: string;
  ticket: string | null;
}) {
  if (approval.isError)
    return <ErrorState title="Cannot read the request" error={approval.error} />;
  const a = approval.data;
  if (!a || a.status === 'pending')
    return (
      <Paper withBorder p="lg" data-testid="approval-waiting">
        <Group gap="md" wrap="nowrap">
          <Loader size="md" />
          <Stack gap={4}>
            <Text fw={600}>Waiting for the customer to approve…</Text>
            <Text size="sm" c="dimmed">
              {a ? visibleText(a.requesterName) : 'You'} asked for a terminal on {serverName}
              {ticket ? ` for support request ${visibleText(ticket)}` : ''}.
              {a && ` The request expires at ${new Date(a.expiresAt).toLocaleTimeString()}.`}
            </Text>
          </Stack>
        </Group>
      </Paper>
    );
  if (a.status === 'approved' || a.status === 'used') return null;
  const words: Record<string, string> = {
    denied: 'The customer denied the request.',
    expired: 'Nobody answered in time: the request expired.',
    cancelled: 'The request was cancelled.',
  };
  return (
    <Alert
      color="red"
      variant="light"
      title="No terminal"
      role="alert"
      data-testid="approval-refused"
    >
      {words[a.status] ?? `The request is ${a.status}.`}
    </Alert>
  );
}

function EndedState({
  ended,
  fallback,
  sessionId,
}: {
  ended: Ended | null;
  fallback: { endedByName: string | null; endReason: string | null; status: string } | null;
  sessionId: string;
}) {
  const by = ended?.by ?? fallback?.endedByName ?? null;
  const reason = ended?.reason ?? fallback?.endReason ?? null;
  const status = ended?.status ?? fallback?.status;
  return (
    <Alert
      color="gray"
      variant="light"
      title={status === 'interrupted' ? 'The session was interrupted' : 'The session ended'}
      data-testid="terminal-ended"
    >
      <Stack gap="xs" align="flex-start">
        <Text size="sm">
          {by ? `Ended by ${visibleText(by)}` : 'Ended'}
          {reason && reason !== `ended by ${by}` ? `: ${visibleText(reason)}` : ''}
        </Text>
        <Button
          size="xs"
          variant="light"
          leftSection={<IconPlayerPlay size={14} aria-hidden />}
          component={Link}
          to={`/terminals/${encodeURIComponent(sessionId)}/playback`}
        >
          Play the recording
        </Button>
      </Stack>
    </Alert>
  );
}
