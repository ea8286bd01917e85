/**
 * A session's recording in asciinema-player: play/pause, seek, speed, markers. The endpoint
 * serves it cut at its keyframes (asciinema-player's segmented format), so the player fetches
 * only the part around where it plays, and a far seek starts from the nearest screen before
 * it rather than replaying everything from the start. `?t=SECONDS` opens it at that moment.
 */
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
import { IconDownload } from '@tabler/icons-react';
import { Link, useParams, useSearchParams } from 'react-router';
import { create, type Player, type UrlSource } from 'asciinema-player';
import { ErrorState, Loading } from '../common/states.tsx';
import { visibleText } from '../common/visible-text.ts';
import { agentQuery } from '../servers/queries.ts';
import { terminalApi } from './terminal-api.ts';
import { markersOf, startAtParam, type CastMarker } from './playback-source.ts';

const SPEEDS = ['0.5', '1', '2', '4'];

export function PlaybackPage() {
  const id = useParams().id!;
  const [search] = useSearchParams();
  const session = useQuery({ queryKey: ['terminal', id], queryFn: () => terminalApi.session(id) });
  const agentId = session.data?.agentId ?? '';
  const agent = useQuery({ ...agentQuery(agentId), enabled: agentId !== '' });
  const serverName = agent.data ? visibleText(agent.data.name) : 'Server';
  const [speed, setSpeed] = useState('1');
  const [startAt] = useState(() => startAtParam(search.get('t')));

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
          <Button
            size="xs"
            variant="default"
            component="a"
            href={terminalApi.recordingUrl(id)}
            leftSection={<IconDownload size={14} aria-hidden />}
          >
            Download .cast
          </Button>
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
      {session.isPending && <Loading label="Loading the recording…" />}
      {session.isError && <ErrorState title="Cannot show this recording" error={session.error} />}
      {session.data && <CastPlayer sessionId={id} speed={Number(speed)} startAt={startAt} />}
    </Stack>
  );
}

function CastPlayer({
  sessionId,
  speed,
  startAt,
}: {
  sessionId: string;
  speed: number;
  startAt: number;
}) {
  const box = useRef<HTMLDivElement>(null);
  const player = useRef<Player | null>(null);
  // A new speed rebuilds the player; it picks up where the last one was.
  const position = useRef(startAt);
  const [markers, setMarkers] = useState<CastMarker[]>([]);
  const [failed, setFailed] = useState<Error | null>(null);

  useEffect(() => {
    // `format` is the player's own switch for segmented recordings; its types omit it.
    const source = { url: terminalApi.playbackUrl(sessionId), format: 'segmented' } as UrlSource;
    const p = create(source, box.current!, {
      speed,
      startAt: position.current,
      preload: true,
      // Shows the moment it opens at (a `?t=` link, or where a speed change left off) at once.
      poster: position.current > 0 ? `npt:${position.current}` : undefined,
      fit: 'width',
      controls: true,
      terminalFontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace',
      // asciinema-player's own theme names; "asciinema" is dark, close to the live terminal's.
      theme: 'asciinema',
    });
    // The player's events beyond its typed few: "metadata" once the index is read, "error".
    const on = p.addEventListener as (name: string, handler: (data: unknown) => void) => void;
    on('metadata', (metadata) => setMarkers(markersOf(metadata)));
    on('error', () => setFailed(new Error('the recording could not be read')));
    player.current = p;
    return () => {
      position.current = p.getCurrentTime() ?? position.current;
      p.dispose();
      player.current = null;
    };
  }, [sessionId, speed]);

  return (
    <Stack gap="sm">
      {failed && <ErrorState title="Cannot play this recording" error={failed} />}
      <div ref={box} className="terminal-playback" data-testid="playback" />
      {markers.length > 0 && (
        <Paper withBorder p="sm">
          <Text size="xs" c="dimmed" tt="uppercase" fw={600} mb={6}>
            Markers
          </Text>
          <Group gap="xs">
            {markers.map((m, i) => (
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
  const mmss = `${String(Math.floor(s / 60) % 60).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
  return s >= 3600 ? `${Math.floor(s / 3600)}:${mmss}` : mmss.replace(/^0/, '');
}
