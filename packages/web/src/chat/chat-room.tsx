/**
 * A server's chat room: its newest messages, older ones a page at a time, new ones live, and a
 * box to write in.
 */
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { useMutation, useQuery } from '@tanstack/react-query';
import {
  Badge,
  Button,
  Group,
  Paper,
  ScrollArea,
  Stack,
  Text,
  Textarea,
  Title,
} from '@mantine/core';
import { api } from '../api/client.ts';
import type { ChatMessage } from '../api/types.ts';
import { ErrorState, errorAdvice, Loading } from '../common/states.tsx';
import { TimeAgo } from '../common/time-ago.tsx';
import { visibleText } from '../common/visible-text.ts';
import { ROLE_LABELS } from '../layout/roles.ts';
import { ChatSocket, chatUrl, mergeMessages, type ChatState } from './chat-socket.ts';

const BODY_MAX = 4000;

interface RoomProps {
  agentId: string;
  ticketId?: string;
}

/** A room per server: another server's room starts afresh. */
export function ChatRoom(props: RoomProps) {
  return <Room key={props.agentId} {...props} />;
}

function Room({ agentId, ticketId }: RoomProps) {
  const history = useQuery({
    queryKey: ['chat', agentId],
    queryFn: () => api.chatHistory(agentId),
  });
  // Every message seen: each load of the newest page, older pages, live ones. A reload of the
  // newest page after a reconnect adds to this and never drops the older pages.
  const [messages, setMessages] = useState<ChatMessage[]>([]);
  // Where the next older page starts; undefined until the first page says.
  const [olderCursor, setOlderCursor] = useState<string | null | undefined>(undefined);
  const [state, setState] = useState<ChatState>('connecting');
  const [draft, setDraft] = useState('');
  const [sending, setSending] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const socket = useRef<ChatSocket | null>(null);
  const refetch = useRef(history.refetch);
  refetch.current = history.refetch;

  useEffect(() => {
    const room = new ChatSocket({
      url: chatUrl(window.location, agentId),
      onMessage: (message) => setMessages((current) => mergeMessages(current, [message])),
      onReady: () => void refetch.current(),
      onState: setState,
      onSendResult: (_ref, failure) => {
        setSending(null);
        if (failure) setError(failure);
        else {
          setError(null);
          setDraft('');
        }
      },
    });
    socket.current = room;
    room.start();
    return () => room.stop();
  }, [agentId]);

  useEffect(() => {
    const page = history.data;
    if (!page) return;
    setMessages((current) => mergeMessages(current, page.messages));
    setOlderCursor((cursor) => (cursor === undefined ? page.nextCursor : cursor));
  }, [history.data]);

  const older = useMutation({
    mutationFn: (cursor: string) => api.chatHistory(agentId, cursor),
    onSuccess: (page) => {
      setMessages((current) => mergeMessages(current, page.messages));
      setOlderCursor(page.nextCursor);
    },
  });

  // Down to the newest message when one arrives; loading older ones leaves the view alone.
  const viewport = useRef<HTMLDivElement>(null);
  const newest = messages.at(-1)?.id;
  useEffect(() => {
    viewport.current?.scrollTo({ top: viewport.current.scrollHeight });
  }, [newest]);

  function submit(event: FormEvent) {
    event.preventDefault();
    const body = draft.trim();
    if (!body) return;
    const ref = `${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
    if (socket.current?.send(body, ref, ticketId)) {
      setSending(ref);
      setError(null);
    } else setError('The chat is not connected; try again in a moment.');
  }

  return (
    <Paper withBorder p="md" component="section" aria-labelledby="chat-title">
      <Group justify="space-between" mb="sm">
        <Title order={2} size="h4" id="chat-title">
          Chat
        </Title>
        <Badge
          variant="dot"
          color={state === 'open' ? 'green' : state === 'connecting' ? 'yellow' : 'red'}
          data-testid="chat-state"
        >
          {state === 'open' ? 'Live' : state === 'connecting' ? 'Connecting' : 'Reconnecting'}
        </Badge>
      </Group>
      {history.isPending && <Loading label="Loading the chat…" />}
      {history.isError && (
        <ErrorState
          title="Could not load the chat"
          error={history.error}
          onRetry={() => void history.refetch()}
        />
      )}
      <ScrollArea.Autosize mah={360} viewportRef={viewport}>
        {olderCursor && (
          <Group justify="center" mb="xs">
            <Button
              size="compact-xs"
              variant="subtle"
              loading={older.isPending}
              onClick={() => older.mutate(olderCursor)}
            >
              Load older messages
            </Button>
          </Group>
        )}
        {older.isError && (
          <Text size="xs" c="red" role="alert" ta="center" mb="xs">
            Older messages did not load: {errorAdvice(older.error)}
          </Text>
        )}
        <Stack gap="xs" data-testid="chat-messages" role="log" aria-label="Chat messages">
          {history.data?.messages.length === 0 && messages.length === 0 && (
            <Text size="sm" c="dimmed">
              No messages yet. Write the first one below.
            </Text>
          )}
          {messages.map((message) => (
            <ChatLine key={message.id} message={message} />
          ))}
        </Stack>
      </ScrollArea.Autosize>
      <form onSubmit={submit}>
        <Stack gap="xs" mt="sm">
          <Textarea
            label="Message"
            placeholder="Write a message"
            autosize
            minRows={2}
            maxRows={6}
            maxLength={BODY_MAX}
            value={draft}
            onChange={(e) => setDraft(e.currentTarget.value)}
            onKeyDown={(e) => {
              if (e.key === 'Enter' && !e.shiftKey) submit(e);
            }}
            error={error}
          />
          <Group justify="flex-end">
            <Button type="submit" loading={sending !== null} disabled={state !== 'open'}>
              Send
            </Button>
          </Group>
        </Stack>
      </form>
    </Paper>
  );
}

function ChatLine({ message }: { message: ChatMessage }) {
  const role = message.author.role as keyof typeof ROLE_LABELS;
  return (
    <div data-testid="chat-message">
      <Group gap={6} wrap="nowrap">
        <Text size="sm" fw={600} className="server-text">
          {visibleText(message.author.name)}
        </Text>
        <Badge size="xs" variant="light" color={role === 'customer' ? 'teal' : 'grape'}>
          {ROLE_LABELS[role] ?? visibleText(message.author.role)}
        </Badge>
        <TimeAgo iso={message.createdAt} size="xs" c="dimmed" />
      </Group>
      <Text size="sm" className="server-text">
        {visibleText(message.body)}
      </Text>
    </div>
  );
}
