import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../testing/harness.ts';

const INDEX = `<!doctype html><html><head><meta name="csp-nonce" content="__TETHER_CSP_NONCE__">
<script type="module" src="/assets/app-abc123.js"></script></head><body></body></html>`;

describe('site', () => {
  let harness: Harness;
  let web: string;

  beforeAll(async () => {
    web = mkdtempSync(join(tmpdir(), 'tether-site-'));
    mkdirSync(join(web, 'assets'));
    writeFileSync(join(web, 'index.html'), INDEX);
    writeFileSync(join(web, 'assets/app-abc123.js'), 'console.log(1)');
    writeFileSync(join(web, 'favicon.svg'), '<svg/>');
    writeFileSync(join(web, '.env'), 'SECRET=1');
    harness = await startHarness({ webDir: web });
  });

  afterAll(async () => {
    await harness?.close();
    rmSync(web, { recursive: true, force: true });
  });

  const get = (path: string) => fetch(`${harness.url}${path}`);

  it('site - pages carry a strict CSP whose style nonce is the one in the page', async () => {
    const response = await get('/');
    const html = await response.text();
    const csp = response.headers.get('content-security-policy')!;
    const nonce = /content="([^"]+)"/.exec(html)![1];

    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(nonce).not.toBe('__TETHER_CSP_NONCE__');
    expect(csp).toContain(`style-src 'self' 'nonce-${nonce}'`);
    expect(csp).toContain("script-src 'self' 'wasm-unsafe-eval';");
    expect(csp).not.toContain("'unsafe-eval'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toMatch(/connect-src 'self' ws:\/\/127\.0\.0\.1:\d+ wss:\/\/127\.0\.0\.1:\d+/);
    expect(csp).not.toContain('unsafe-inline');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    expect(response.headers.get('cache-control')).toBe('no-store');
  });

  it('site - every page gets its own nonce', async () => {
    const a = (await get('/').then((r) => r.headers.get('content-security-policy')))!;
    const b = (await get('/').then((r) => r.headers.get('content-security-policy')))!;
    expect(a).not.toBe(b);
  });

  it('site - deep links answer the app, which routes them itself', async () => {
    const response = await get('/servers/abc?x=1');
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('/assets/app-abc123.js');
  });

  it('site - hashed assets are cached for a year; other files for an hour', async () => {
    const asset = await get('/assets/app-abc123.js');
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(await asset.text()).toBe('console.log(1)');
    const icon = await get('/favicon.svg');
    expect(icon.headers.get('cache-control')).toBe('public, max-age=3600');
  });

  const notSite = [
    { name: 'an unknown API route', path: '/api/v1/nope' },
    { name: 'the API root', path: '/api' },
    { name: 'an unknown agent path', path: '/agent/v2/connect' },
    { name: 'a path under downloads', path: '/downloads/a/b' },
    { name: 'a missing asset', path: '/assets/gone-123.js' },
  ];
  for (const c of notSite) {
    it(`site - ${c.name} is a JSON 404, not the app`, async () => {
      const response = await get(c.path);
      expect(response.status).toBe(404);
      expect((await response.json()).error.code).toBe('not_found');
    });
  }

  it('site - the API and downloads keep their own answers', async () => {
    expect((await get('/healthz').then((r) => r.json())).ok).toBe(true);
    expect(await get('/install.sh').then((r) => r.text())).toContain('#!/bin/sh');
  });

  const escapes = [
    '/.env',
    '/%2e%2e/%2e%2e/package.json',
    '/..%2f..%2fpackage.json',
    '/assets/..%2f.env',
  ];
  for (const path of escapes) {
    it(`site - ${path} reaches no file outside the site or dotfile`, async () => {
      const body = await get(path).then((r) => r.text());
      expect(body).not.toContain('SECRET');
      expect(body).not.toContain('"workspaces"');
    });
  }
});

describe('site not built', () => {
  let harness: Harness;

  beforeAll(async () => {
    harness = await startHarness({ webDir: join(tmpdir(), 'tether-no-such-site') });
  });
  afterAll(() => harness?.close());

  it('site - an unbuilt site says how to build it', async () => {
    const response = await fetch(`${harness.url}/`);
    expect(response.status).toBe(503);
    expect(await response.text()).toContain('npm run build:web');
    expect(response.headers.get('content-security-policy')).toContain("default-src 'self'");
  });
});
