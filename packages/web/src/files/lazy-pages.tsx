/** The Files pages load on first use: CodeMirror and Yjs stay out of the main bundle. */
import { Suspense, lazy } from 'react';
import { Loading } from '../common/states.tsx';

const ServerFiles = lazy(() =>
  import('./server-files-page.tsx').then((m) => ({ default: m.ServerFilesPage })),
);
const FileSession = lazy(() =>
  import('./file-session-page.tsx').then((m) => ({ default: m.FileSessionPage })),
);

export function ServerFilesPage() {
  return (
    <Suspense fallback={<Loading label="Loading the files page…" />}>
      <ServerFiles />
    </Suspense>
  );
}

export function FileSessionPage() {
  return (
    <Suspense fallback={<Loading label="Loading the editor…" />}>
      <FileSession />
    </Suspense>
  );
}
