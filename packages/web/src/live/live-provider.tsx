/** One live socket per signed-in tab, shared by every page; stale queries refresh on events. */
import {
  createContext,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useRef,
  useState,
  type ReactNode,
} from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { Alert, Button, Group, Text } from '@mantine/core';
import { IconPlugConnectedX } from '@tabler/icons-react';
import type { AuditEvent } from '../api/types.ts';
import { AGENT_STATE_CODES } from '../audit/phrases.ts';
import { ME_KEY } from '../query-client.ts';
import { LiveSocket, liveUrl, type LiveStatus } from './live-socket.ts';

type Listener = (event: AuditEvent) => void;

type TopicListener = (topic: string, event: unknown) => void;

/** Topics the endpoint offers (audit, tickets, approvals, terminals, files); one unknown fails them all. */
const LIVE_TOPICS = ['audit', 'tickets', 'approvals', 'terminals', 'files'];

interface Live {
  status: LiveStatus;
  subscribe(listener: Listener): () => void;
  subscribeTopics(listener: TopicListener): () => void;
  retryNow(): void;
}

const LiveContext = createContext<Live | null>(null);

export function LiveProvider({ children }: { children: ReactNode }) {
  const client = useQueryClient();
  const [status, setStatus] = useState<LiveStatus>({ state: 'connecting' });
  const listeners = useRef(new Set<Listener>());
  const topicListeners = useRef(new Set<TopicListener>());
  const socket = useRef<LiveSocket | null>(null);

  useEffect(() => {
    const live = new LiveSocket({
      url: liveUrl(window.location),
      topics: LIVE_TOPICS,
      onStatus: (next) => {
        setStatus(next);
        // A refused upgrade looks like any other close; asking who we are tells a lapsed
        // session (which sends the user to sign in) from a network problem.
        if (next.state === 'waiting') void client.invalidateQueries({ queryKey: ME_KEY });
      },
      onEvent: (topic, event) => {
        topicListeners.current.forEach((listener) => listener(topic, event));
        // The queue and the lists re-read the API: the event says something changed, the
        // API says what the caller may see of it now.
        if (topic === 'tickets') void client.invalidateQueries({ queryKey: ['tickets'] });
        // Session lists (a server's, a ticket's): one started or ended. An open session's page
        // learns its end on its own socket.
        if (topic === 'terminals') void client.invalidateQueries({ queryKey: ['terminals'] });
        if (topic === 'files') {
          // A file session started, ended or got write access.
          void client.invalidateQueries({ queryKey: ['file-sessions'] });
          void client.invalidateQueries({ queryKey: ['file-session'] });
        }
      },
      onAudit: (event) => {
        if (AGENT_STATE_CODES.has(event.code)) {
          void client.invalidateQueries({ queryKey: ['agents'] });
          if (event.agentId) void client.invalidateQueries({ queryKey: ['agent', event.agentId] });
        }
        listeners.current.forEach((listener) => listener(event));
      },
    });
    socket.current = live;
    live.start();
    return () => live.stop();
  }, [client]);

  const subscribe = useCallback((listener: Listener) => {
    listeners.current.add(listener);
    return () => void listeners.current.delete(listener);
  }, []);
  const subscribeTopics = useCallback((listener: TopicListener) => {
    topicListeners.current.add(listener);
    return () => void topicListeners.current.delete(listener);
  }, []);
  const retryNow = useCallback(() => socket.current?.retryNow(), []);
  const value = useMemo<Live>(
    () => ({ status, subscribe, subscribeTopics, retryNow }),
    [status, subscribe, subscribeTopics, retryNow],
  );
  return <LiveContext.Provider value={value}>{children}</LiveContext.Provider>;
}

export function useLive(): Live {
  const live = useContext(LiveContext);
  if (!live) throw new Error('useLive outside LiveProvider');
  return live;
}

/** Calls `listener` with each audit event the caller may see, as it is written. */
export function useAuditEvents(listener: Listener): void {
  const { subscribe } = useLive();
  const latest = useRef(listener);
  latest.current = listener;
  useEffect(() => subscribe((event) => latest.current(event)), [subscribe]);
}

/** Calls `listener` with each event of `topic` (tickets, approvals) the caller may see. */
export function useTopicEvents(topic: string, listener: (event: unknown) => void): void {
  const { subscribeTopics } = useLive();
  const latest = useRef(listener);
  latest.current = listener;
  useEffect(
    () => subscribeTopics((name, event) => name === topic && latest.current(event)),
    [subscribeTopics, topic],
  );
}

/** Shown while the live socket is down: what is stale, and when it tries again. */
export function LiveBanner() {
  const { status, retryNow } = useLive();
  const seconds = useCountdown(status.state === 'waiting' ? status.retryAt : null);
  if (status.state !== 'waiting') return null;

  return (
    <Alert
      color="yellow"
      variant="light"
      icon={<IconPlugConnectedX aria-hidden />}
      title="Live updates paused"
      role="status"
      mb="md"
    >
      <Group justify="space-between" gap="sm">
        <Text size="sm">
          The connection to the Tether server dropped, so new activity will not appear.
          {seconds > 0 ? ` Reconnecting in ${seconds} s.` : ' Reconnecting…'}
        </Text>
        <Button size="xs" variant="light" color="yellow" onClick={retryNow}>
          Reconnect now
        </Button>
      </Group>
    </Alert>
  );
}

function useCountdown(until: number | null): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (until === null) return;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [until]);
  return until === null ? 0 : Math.max(0, Math.ceil((until - now) / 1000));
}
