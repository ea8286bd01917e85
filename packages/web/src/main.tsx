/** The support site's entry: theme, server state, notifications and routes around the app. */
import '@mantine/core/styles.css';
import '@mantine/notifications/styles.css';
import './site.css';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { MantineProvider } from '@mantine/core';
import { Notifications } from '@mantine/notifications';
import { QueryClientProvider } from '@tanstack/react-query';
import { BrowserRouter } from 'react-router';
import { setNonce } from 'get-nonce';
import { App } from './app.tsx';
import { createQueryClient } from './query-client.ts';
import { theme } from './theme.ts';

/** The endpoint writes a fresh nonce into this meta tag on every page it serves (see site.ts). */
const styleNonce = document.querySelector('meta[name="csp-nonce"]')?.getAttribute('content') ?? '';
// Mantine's modals lock scrolling with react-remove-scroll, whose <style> takes its nonce here.
setNonce(styleNonce);

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <MantineProvider theme={theme} defaultColorScheme="dark" getStyleNonce={() => styleNonce}>
      <Notifications position="bottom-right" />
      <QueryClientProvider client={createQueryClient()}>
        <BrowserRouter>
          <App />
        </BrowserRouter>
      </QueryClientProvider>
    </MantineProvider>
  </StrictMode>,
);
