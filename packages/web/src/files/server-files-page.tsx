/**
 * `/servers/:agentId/files`: opening files on a server (asking the customer first, or straight
 * away for a customer's own self-service), the server's file sessions, and its file history.
 */
import { useEffect } from 'react';
import { useMutation, useQuery } from '@tanstack/react-query';
import {
  Alert,
  Anchor,
  Badge,
  Breadcrumbs,
  Button,
  Group,
  Paper,
  Stack,
  Table,
  Text,
  Title,
} from '@mantine/core';
import { IconFolderOpen } from '@tabler/icons-react';
import { Link, useNavigate, useParams, useSearchParams } from 'react-router';
import { api } from '../api/client.ts';
import type { Agent } from '../api/types.ts';
import { STAFF_ROLES, useUser } from '../auth/session.tsx';
import { ErrorState, Loading } from '../common/states.tsx';
import { TimeAgo } from '../common/time-ago.tsx';
import { visibleText } from '../common/visible-text.ts';
import { agentQuery } from '../servers/queries.ts';
import { AccessState, useAccessRequest } from './access-request.tsx';
import { FileHistory } from './file-history.tsx';
import { filesApi, type FileSession } from './files-api.ts';

/** Sessions start and end elsewhere too; a slow poll keeps the list honest. */
const SESSIONS_REFRESH_MS = 10_000;

export function sessionPath(agentId: string, sessionId: string, ticket?: string | null): string {
  const base = `/servers/${encodeURIComponent(agentId)}/files/${encodeURIComponent(sessionId)}`;
  return ticket ? `${base}?ticket=${encodeURIComponent(ticket)}` : base;
}

export function ServerFilesPage() {
  const agentId = useParams().agentId!;
  const [search] = useSearchParams();
  const ticket = search.get('ticket') ?? undefined;
  const agent = useQuery(agentQuery(agentId));
  const name = agent.data ? visibleText(agent.data.name) : 'Server';

  return (
    <Stack>
      <Breadcrumbs>
        <Anchor component={Link} to="/servers">
          Servers
        </Anchor>
        <Anchor component={Link} to={`/servers/${encodeURIComponent(agentId)}`}>
          {name}
        </Anchor>
        <Text>Files</Text>
      </Breadcrumbs>
      {agent.isPending && <Loading label="Loading the server…" />}
      {agent.isError && (
        <ErrorState
          title="Cannot show this server"
          error={agent.error}
          onRetry={() => void agent.refetch()}
          action={
            <Button size="xs" variant="default" component={Link} to="/servers">
              Back to servers
            </Button>
          }
        />
      )}
      {agent.data && (
        <>
          <Group gap="sm">
            <Title order={1} size="h2" className="server-text">
              Files on {name}
            </Title>
            {ticket && (
              <Badge variant="light" component={Link} to={`/tickets/${encodeURIComponent(ticket)}`}>
                for a support request
              </Badge>
            )}
          </Group>
          <OpenFiles agent={agent.data} ticket={ticket} />
          <FileSessions agent={agent.data} ticket={ticket} />
          <FileHistory agentId={agent.data.id} ticket={ticket} />
        </>
      )}
    </Stack>
  );
}

function OpenFiles({ agent, ticket }: { agent: Agent; ticket?: string }) {
  const user = useUser();
  const navigate = useNavigate();
  const staff = STAFF_ROLES.has(user.role);
  const read = useAccessRequest(agent.id, 'files.read', ticket);
  const open = useMutation({
    mutationFn: (readApproval?: string) => filesApi.openSession(agent.id, { ticket, readApproval }),
    onSuccess: (session) => void navigate(sessionPath(agent.id, session.id, ticket)),
  });
  const approvedId = read.approval?.status === 'approved' ? read.approval.id : null;
  useEffect(() => {
    if (approvedId && open.isIdle) open.mutate(approvedId);
  }, [approvedId, open]);
  // Customers open files themselves only where their account's policy says so.
  const policy = useQuery({
    queryKey: ['consent', agent.accountId],
    queryFn: () => api.consent(agent.accountId),
    enabled: !staff,
  });
  const selfServiceOff = !staff && policy.data?.selfService === false;

  const unavailable = !agent.online || agent.revokedAt !== null;
  const waiting = read.approval?.status === 'pending';
  const busy =
    read.ask.isPending || open.isPending || waiting || (approvedId !== null && open.isIdle);
  const start = () => {
    open.reset();
    if (staff) {
      read.reset();
      read.ask.mutate(undefined);
    } else open.mutate(undefined);
  };

  return (
    <Paper withBorder p="md" component="section" aria-labelledby="open-files-title">
      <Group justify="space-between" align="flex-start">
        <Stack gap={4}>
          <Title order={2} size="h4" id="open-files-title">
            Browse and edit files
          </Title>
          <Text size="sm" c="dimmed" maw={620}>
            {staff
              ? 'The customer is asked first unless their policy allows it. Everything you open, save, upload or delete is recorded, and they can watch live.'
              : 'Browse, edit, upload and download files on this server yourself. Everything is recorded in the history below.'}
          </Text>
        </Stack>
        {!selfServiceOff && (
          <Button
            leftSection={<IconFolderOpen size={16} aria-hidden />}
            onClick={start}
            loading={busy}
            disabled={unavailable}
          >
            Open files
          </Button>
        )}
      </Group>
      {selfServiceOff && (
        <Text size="sm" mt="sm" data-testid="self-service-off">
          Self-service is off for your account, so files open only for engineers you approve. To
          browse files yourself, turn on “Let people of my account use files…” in the{' '}
          <Anchor component={Link} to="/servers">
            consent settings
          </Anchor>
          . The history below shows what was done.
        </Text>
      )}
      {unavailable && (
        <Text size="sm" c="dimmed" mt="sm">
          The server is {agent.revokedAt ? 'revoked' : 'offline'}: files open once it is connected.
        </Text>
      )}
      {staff && (
        <Stack mt="sm">
          <AccessState
            action="files.read"
            approval={read.approval}
            error={read.error}
            serverName={visibleText(agent.name)}
          />
        </Stack>
      )}
      {open.isError && (
        <Alert color="red" variant="light" mt="sm" title="Files did not open" role="alert">
          {openAdvice(open.error, staff)}
        </Alert>
      )}
    </Paper>
  );
}

function openAdvice(error: unknown, staff: boolean): string {
  const code = (error as { code?: string }).code;
  if (!staff && code === 'forbidden')
    return 'Self-service is off for your account. Turn on “Let people of my account use files…” in the consent settings on the Servers page, then try again.';
  const message = error instanceof Error ? error.message : 'something went wrong';
  return `${message.charAt(0).toUpperCase()}${message.slice(1)}.`;
}

function FileSessions({ agent, ticket }: { agent: Agent; ticket?: string }) {
  const user = useUser();
  const sessions = useQuery({
    queryKey: ['file-sessions', agent.id],
    queryFn: () => filesApi.sessions(agent.id),
    refetchInterval: SESSIONS_REFRESH_MS,
  });
  const shown = (sessions.data ?? []).filter((s) => !ticket || s.ticketId === ticket);
  return (
    <Paper withBorder p="md" component="section" aria-labelledby="file-sessions-title">
      <Title order={2} size="h4" id="file-sessions-title" mb="sm">
        File sessions
      </Title>
      {sessions.isPending && <Loading label="Loading file sessions…" />}
      {sessions.isError && (
        <ErrorState
          title="Cannot list file sessions"
          error={sessions.error}
          onRetry={() => void sessions.refetch()}
        />
      )}
      {sessions.data && shown.length === 0 && (
        <Text size="sm" c="dimmed">
          No file sessions {ticket ? 'for this support request' : 'on this server'} yet. “Open
          files” starts one.
        </Text>
      )}
      {shown.length > 0 && (
        <Table.ScrollContainer minWidth={560}>
          <Table aria-label="File sessions" verticalSpacing="xs">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Started</Table.Th>
                <Table.Th>By</Table.Th>
                <Table.Th>Access</Table.Th>
                <Table.Th>State</Table.Th>
                <Table.Th />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {shown.map((s) => (
                <SessionRow key={s.id} session={s} mine={s.userId === user.id} ticket={ticket} />
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
    </Paper>
  );
}

function SessionRow({
  session,
  mine,
  ticket,
}: {
  session: FileSession;
  mine: boolean;
  ticket?: string;
}) {
  const live = session.status === 'live';
  return (
    <Table.Tr>
      <Table.Td>
        <TimeAgo iso={session.startedAt} />
      </Table.Td>
      <Table.Td className="server-text">{visibleText(session.username)}</Table.Td>
      <Table.Td>{session.canWrite ? 'read and write' : 'read only'}</Table.Td>
      <Table.Td>
        <Badge variant="light" color={live ? 'green' : 'gray'}>
          {live ? 'Live' : 'Ended'}
        </Badge>
      </Table.Td>
      <Table.Td>
        {live && (
          <Anchor
            component={Link}
            to={sessionPath(session.agentId, session.id, ticket ?? session.ticketId)}
            size="sm"
          >
            {mine ? 'Continue' : 'Watch live'}
          </Anchor>
        )}
      </Table.Td>
    </Table.Tr>
  );
}
