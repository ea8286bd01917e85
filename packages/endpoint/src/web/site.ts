/** Serves the support site (packages/web/dist) at `/`, with its security headers. */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

declare module '../server.ts' {
  interface EndpointOptions {
    /** The built support site; defaults to the repository's packages/web/dist. */
    webDir?: string;
  }
}

export const DEFAULT_WEB_DIR = resolve(import.meta.dirname, '../../../web/dist');

/** Vite names files under assets/ by content hash, so a year is safe (RFC 8246 immutable). */
const HASHED_CACHE = 'public, max-age=31536000, immutable';
/** Other files (the icon) keep their names across builds. */
const PLAIN_CACHE = 'public, max-age=3600';
/** index.html carries a fresh nonce and names this build's assets: never reuse it. */
const HTML_CACHE = 'no-store';
const NONCE_PLACEHOLDER = '__TETHER_CSP_NONCE__';
const NONCE_BYTES = 18;

/** Paths that belong to the API and the agents: an unknown one is a JSON 404, never the site. */
const NOT_SITE = [
  /^\/api(\/|$)/,
  /^\/agent(\/|$)/,
  /^\/downloads(\/|$)/,
  /^\/install\.sh$/,
  /^\/healthz$/,
];
/** A missing hashed asset is a 404: answering with index.html would only confuse the browser. */
const ASSETS = /^\/assets\//;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.wasm': 'application/wasm',
};

const NOT_BUILT_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tether: site not built</title></head>
<body>
<h1>The support site is not built yet</h1>
<p>Run <code>npm run build:web</code> in the Tether repository, then reload this page.
<code>npm start</code> builds it for you.</p>
<p>The API is running: <a href="/api/v1/openapi.json">/api/v1/openapi.json</a>.</p>
</body></html>
`;

export async function registerSite(app: FastifyInstance, webDir = DEFAULT_WEB_DIR): Promise<void> {
  const root = resolve(webDir);

  app.addHook('onSend', async (_request, reply) => {
    // Every answer, JSON included: browsers must not guess a type from the bytes.
    reply.header('x-content-type-options', 'nosniff');
  });

  app.get('/*', async (request, reply) => {
    const path = decodedPath(request.url);
    if (path === null || NOT_SITE.some((pattern) => pattern.test(path))) {
      return reply.callNotFound();
    }

    const file = await siteFile(root, path);
    if (file && !file.endsWith(`${sep}index.html`)) return sendFile(reply, file, path);
    if (ASSETS.test(path) && !file) return reply.callNotFound();
    return sendIndex(request, reply, root);
  });
}

/** The request path without its query, percent-decoded; null when it cannot be. */
function decodedPath(url: string): string | null {
  try {
    const path = decodeURIComponent(url.split('?')[0]);
    return path.includes('\0') ? null : path;
  } catch {
    return null;
  }
}

/**
 * The file under `root` that `path` names, or null. Names are resolved and must stay inside
 * the folder, and no segment may start with a dot, so `..` and dotfiles reach nothing.
 */
async function siteFile(root: string, path: string): Promise<string | null> {
  if (path.split('/').some((segment) => segment.startsWith('.'))) return null;
  const full = resolve(join(root, path));
  if (!full.startsWith(root + sep)) return null;
  try {
    return (await stat(full)).isFile() ? full : null;
  } catch {
    // Missing or unreadable: the caller falls back to the app or a 404.
    return null;
  }
}

async function sendFile(reply: FastifyReply, file: string, path: string) {
  const info = await stat(file);
  reply
    .type(TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream')
    .header('content-length', info.size)
    .header('cache-control', ASSETS.test(path) ? HASHED_CACHE : PLAIN_CACHE);
  return reply.send(createReadStream(file));
}

async function sendIndex(request: FastifyRequest, reply: FastifyReply, root: string) {
  let html: string;
  try {
    html = await readFile(join(root, 'index.html'), 'utf8');
  } catch {
    securityHeaders(reply, request, null);
    return reply.code(503).type(TYPES['.html']).send(NOT_BUILT_PAGE);
  }

  const nonce = randomBytes(NONCE_BYTES).toString('base64');
  securityHeaders(reply, request, nonce);
  return reply.type(TYPES['.html']).send(html.replaceAll(NONCE_PLACEHOLDER, nonce));
}

/**
 * Headers for every HTML page. Scripts come only from this origin and never inline. Mantine
 * writes its theme variables into `<style>` elements, so styles allow this response's nonce
 * (which the app hands to Mantine) instead of 'unsafe-inline'; React's `style` props are set
 * through the CSSOM, which CSP does not govern. The playback page's asciinema-player runs its
 * terminal emulator as WebAssembly compiled from its own bundled script, which needs
 * 'wasm-unsafe-eval' (it allows compiling WebAssembly only, not eval or inline script).
 */
function securityHeaders(reply: FastifyReply, request: FastifyRequest, nonce: string | null) {
  const styles = nonce ? `'self' 'nonce-${nonce}'` : "'self'";
  const csp = [
    "default-src 'self'",
    "script-src 'self' 'wasm-unsafe-eval'",
    `style-src ${styles}`,
    "img-src 'self' data:",
    "font-src 'self'",
    `connect-src ${connectSources(request)}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
  reply
    .header('content-security-policy', csp)
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY')
    .header('cross-origin-opener-policy', 'same-origin')
    .header('cache-control', HTML_CACHE);
}

/** 'self', plus this host's ws: and wss: spelled out for browsers whose 'self' omits them. */
function connectSources(request: FastifyRequest): string {
  const host = request.headers.host ?? '';
  if (!/^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/.test(host)) return "'self'";
  return `'self' ws://${host} wss://${host}`;
}
