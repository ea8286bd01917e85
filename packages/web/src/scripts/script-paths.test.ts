import { describe, expect, it } from 'vitest';
import { parseScriptPath, scriptHref } from './script-paths.ts';

describe('script paths', () => {
  it.each([
    ['acme/disk/usage', { name: 'acme/disk/usage', version: null, path: [] }],
    ['acme/disk/usage/', { name: 'acme/disk/usage', version: null, path: [] }],
    ['acme/disk/usage@1.2.0', { name: 'acme/disk/usage', version: '1.2.0', path: [] }],
    ['tools@1.0.0-rc.1/lib/', { name: 'tools', version: '1.0.0-rc.1', path: ['lib'] }],
    [
      'acme/disk@2.0.0/docs/a%20b%40c%3F.md',
      { name: 'acme/disk', version: '2.0.0', path: ['docs', 'a b@c?.md'] },
    ],
  ])('script paths - %s reads as name, version and path', (rest, expected) => {
    expect(parseScriptPath(rest)).toEqual(expected);
  });

  it.each(['', '@1.0.0', 'acme@', 'acme@1.0.0/%E0%A4%A'])(
    'script paths - %j is no location',
    (rest) => {
      expect(parseScriptPath(rest)).toBeNull();
    },
  );

  it('script paths - a link reads back as the same location, odd file names included', () => {
    const href = scriptHref('acme/disk', '1.0.0', ['lib', '#1 100%?.js']);
    expect(href).toBe('/scripts/acme/disk@1.0.0/lib/%231%20100%25%3F.js');
    expect(parseScriptPath(href.slice('/scripts/'.length))).toEqual({
      name: 'acme/disk',
      version: '1.0.0',
      path: ['lib', '#1 100%?.js'],
    });
    expect(scriptHref('acme/disk')).toBe('/scripts/acme/disk');
  });
});
