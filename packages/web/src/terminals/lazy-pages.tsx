/** The terminal pages load on first use: xterm.js and asciinema-player stay out of the main bundle. */
import { Suspense, lazy } from 'react';
import { Loading } from '../common/states.tsx';

const Terminal = lazy(() =>
  import('./terminal-page.tsx').then((m) => ({ default: m.TerminalPage })),
);
const Playback = lazy(() =>
  import('./playback-page.tsx').then((m) => ({ default: m.PlaybackPage })),
);

export function TerminalPage() {
  return (
    <Suspense fallback={<Loading label="Loading the terminal…" />}>
      <Terminal />
    </Suspense>
  );
}

export function PlaybackPage() {
  return (
    <Suspense fallback={<Loading label="Loading the player…" />}>
      <Playback />
    </Suspense>
  );
}
