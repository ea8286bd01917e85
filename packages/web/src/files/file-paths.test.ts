import { describe, expect, it } from 'vitest';
import {
  childRef,
  crumbsOf,
  fromB64,
  nameProblem,
  normalizePath,
  parentRef,
  ROOT,
  toB64,
} from './file-paths.ts';

describe('file paths', () => {
  it('file paths - children, parents and breadcrumbs of plain paths', () => {
    const etc = childRef(ROOT, { name: 'etc' });
    const nginx = childRef(etc, { name: 'nginx' });
    expect(nginx).toEqual({ path: '/etc/nginx' });
    expect(parentRef(nginx)).toEqual({ path: '/etc' });
    expect(parentRef(etc)).toEqual(ROOT);
    expect(parentRef(ROOT)).toEqual(ROOT);
    expect(crumbsOf(nginx).map((c) => c.label)).toEqual(['/', 'etc', 'nginx']);
    expect(crumbsOf(ROOT).map((c) => c.label)).toEqual(['/']);
  });

  it('file paths - a name that is not UTF-8 keeps its exact bytes down the tree', () => {
    const raw = new Uint8Array([0x66, 0xff, 0x6f]);
    const odd = childRef({ path: '/srv' }, { name: 'f\ufffdo', nameB64: toB64(raw) });
    expect(odd.path).toBe('/srv/f\ufffdo');
    expect([...fromB64(odd.b64!)]).toEqual([...new TextEncoder().encode('/srv/'), ...raw]);
    const inside = childRef(odd, { name: 'a.txt' });
    expect([...fromB64(inside.b64!)]).toEqual([
      ...new TextEncoder().encode('/srv/'),
      ...raw,
      ...new TextEncoder().encode('/a.txt'),
    ]);
    expect(parentRef(inside)).toEqual(odd);
    expect(parentRef(parentRef(inside))).toEqual({
      path: '/srv',
      b64: toB64(new TextEncoder().encode('/srv')),
    });
  });

  it('file paths - typed paths are tidied, relative ones refused', () => {
    expect(normalizePath(' /etc//nginx/./sites/../conf.d/ ')).toBe('/etc/nginx/conf.d');
    expect(normalizePath('/..')).toBe('/');
    expect(normalizePath('etc/nginx')).toBeNull();
    expect(normalizePath('/a\0b')).toBeNull();
  });

  it('file paths - new names are one segment', () => {
    expect(nameProblem('app.conf')).toBeNull();
    expect(nameProblem('')).toMatch(/name/);
    expect(nameProblem('..')).toMatch(/reserved/);
    expect(nameProblem('a/b')).toMatch(/“\/”/);
    expect(nameProblem('x'.repeat(256))).toMatch(/255/);
  });
});
