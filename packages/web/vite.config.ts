/** Builds the support site into dist/, which the endpoint serves at `/`. */
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

export default defineConfig({
  root: import.meta.dirname,
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // The endpoint's CSP allows no inline script: keep every chunk a file under /assets/.
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 1024,
  },
  server: {
    // `npm run dev -w @tether/web` against an endpoint started with `npm start`.
    proxy: {
      '/api': { target: 'http://127.0.0.1:8080', ws: true },
      '/install.sh': 'http://127.0.0.1:8080',
      '/downloads': 'http://127.0.0.1:8080',
    },
  },
});
