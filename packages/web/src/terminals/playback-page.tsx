/** A session's recording (asciicast v2) in asciinema-player: play/pause, seek, speed, markers. */
import 'asciinema-player/dist/bundle/asciinema-player.css';
import { useEffect, useRef, useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import {
  Anchor,
  Breadcrumbs,
  Button,
  Group,
  Paper,
  SegmentedControl,
  Stack,
  Text,
  Title,
} from '@mantine/core';
import { Link, useParams } from 'react-router';
import { create, type Player } from 'asciinema-player';
import { ErrorState, Loading } from '../common/states.tsx';
import { visibleText } from '../common/visible-text.ts';
import { agentQuery } from '../servers/queries.ts';
import { terminalApi } from './terminal-api.ts';
import { castMarkers, type CastMarker } from './cast.ts';

const SPEEDS = ['0.5', '1', '2', '4'];

export function PlaybackPage() {
  const id = useParams().id!;
  const session = useQuery({ queryKey: ['terminal', id], queryFn: () => terminalApi.session(id) });
  const cast = useQuery({
    queryKey: ['terminal', id, 'recording'],
    queryFn: async () => {
      const response = await fetch(terminalApi.recordingUrl(id), { credentials: 'same-origin' });
      if (!response.ok) throw new Error(`the recording could not be read (${response.status})`);
      return response.text();
    },
    staleTime: Infinity,
  });
  const agentId = session.data?.agentId ?? '';
  const agent = useQuery({ ...agentQuery(agentId), enabled: agentId !== '' });
  const serverName = agent.data ? visibleText(agent.data.name) : 'Server';
  const [speed, setSpeed] = useState('1');

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
        <Text>Recording</Text>
      </Breadcrumbs>
      <Group justify="space-between">
        <Title order={1} size="h2" className="server-text">
          Recording on {serverName}
        </Title>
        <Group gap="xs">
          <Text size="sm" c="dimmed">
            Speed
          </Text>
          <SegmentedControl
            size="xs"
            data={SPEEDS.map((s) => ({ value: s, label: `${s}×` }))}
            value={speed}
            onChange={setSpeed}
            aria-label="Playback speed"
          />
        </Group>
      </Group>
      {session.data?.status === 'live' && (
        <Text size="sm" c="dimmed">
          The session is still live: this plays what was recorded so far.{' '}
          <Anchor component={Link} to={`/terminals/${encodeURIComponent(id)}`}>
            Watch it live
          </Anchor>
        </Text>
      )}
      {(cast.isPending || session.isPending) && <Loading label="Loading the recording…" />}
      {session.isError && <ErrorState title="Cannot show this recording" error={session.error} />}
      {cast.isError && !session.isError && (
        <ErrorState title="Cannot play this recording" error={cast.error} />
      )}
      {cast.data !== undefined && <CastPlayer cast={cast.data} speed={Number(speed)} />}
    </Stack>
  );
}

function CastPlayer({ cast, speed }: { cast: string; speed: number }) {
  const box = useRef<HTMLDivElement>(null);
  const player = useRef<Player | null>(null);
  // A new speed rebuilds the player; it picks up where the last one was.
  const position = useRef(0);
  const markers = castMarkers(cast);

  useEffect(() => {
    const p = create({ data: cast }, box.current!, {
      speed,
      startAt: position.current,
      fit: 'width',
      controls: true,
      idleTimeLimit: 2,
      terminalFontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace',
      markers: markers.map((m): [number, string] => [m.time, m.label]),
      // asciinema-player's own theme names; "asciinema" is dark, close to the live terminal's.
      theme: 'asciinema',
    });
    player.current = p;
    return () => {
      position.current = p.getCurrentTime() ?? 0;
      p.dispose();
      player.current = null;
    };
    // The cast text is the whole input; markers derive from it.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [cast, speed]);

  return (
    <Stack gap="sm">
      <div ref={box} className="terminal-playback" data-testid="playback" />
      {markers.length > 0 && (
        <Paper withBorder p="sm">
          <Text size="xs" c="dimmed" tt="uppercase" fw={600} mb={6}>
            Markers
          </Text>
          <Group gap="xs">
            {markers.map((m: CastMarker, i) => (
              <Button
                key={i}
                size="compact-xs"
                variant="light"
                onClick={() => void player.current?.seek({ marker: i })}
              >
                {formatTime(m.time)} {visibleText(m.label)}
              </Button>
            ))}
          </Group>
        </Paper>
      )}
    </Stack>
  );
}

function formatTime(seconds: number): string {
  const s = Math.floor(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}
