/** The site's routes. Signed-in pages share the layout; everything else goes to sign-in. */
import { Navigate, Route, Routes } from 'react-router';
import { RequireSignIn } from './auth/session.tsx';
import { SignInPage } from './auth/sign-in-page.tsx';
import { AppLayout } from './layout/app-layout.tsx';
import { NotFoundPage } from './layout/not-found-page.tsx';
import { PackagePage } from './scripts/package-page.tsx';
import { ScriptsPage } from './scripts/scripts-page.tsx';
import { ServerPage } from './servers/server-page.tsx';
import { ServersPage } from './servers/servers-page.tsx';
import { TicketsPage } from './tickets/tickets-page.tsx';
import { TicketPage } from './tickets/ticket-page.tsx';
import { PlaybackPage, TerminalPage } from './terminals/lazy-pages.tsx';
import { FileSessionPage, ServerFilesPage } from './files/lazy-pages.tsx';

export function App() {
  return (
    <Routes>
      <Route path="/sign-in" element={<SignInPage />} />
      <Route
        element={
          <RequireSignIn>
            <AppLayout />
          </RequireSignIn>
        }
      >
        <Route index element={<Navigate to="/servers" replace />} />
        <Route path="/servers" element={<ServersPage />} />
        <Route path="/servers/:agentId" element={<ServerPage />} />
        <Route path="/servers/:agentId/files" element={<ServerFilesPage />} />
        <Route path="/servers/:agentId/files/:sessionId" element={<FileSessionPage />} />
        <Route path="/tickets" element={<TicketsPage />} />
        <Route path="/tickets/:id" element={<TicketPage />} />
        <Route path="/terminals/:id" element={<TerminalPage />} />
        <Route path="/terminals/:id/playback" element={<PlaybackPage />} />
        <Route path="/scripts" element={<ScriptsPage />} />
        <Route path="/scripts/*" element={<PackagePage />} />
        {/*
          Next, on the endpoint's ticket, chat, consent and terminal APIs (issue 3):
          /tickets/:id (question, chat, activity),
          /sessions/:id (live terminal) and /recordings/:id (playback). Add each here and to
          SECTIONS in layout/app-layout.tsx when its API exists.
        */}
        <Route path="*" element={<NotFoundPage />} />
      </Route>
    </Routes>
  );
}
