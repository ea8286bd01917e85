/** script.json: every field checked, each problem named, nothing evaluated. */
import { describe, expect, it } from 'vitest';
import { canonicalManifest, parseManifest } from './manifest.ts';

const good = {
  name: 'acme/disk/usage',
  version: '1.2.3',
  description: 'Disk usage per folder',
  tags: ['disk', 'ops'],
  owners: ['alice'],
  visibility: 'customers',
  dependencies: { 'acme/fmt': '^1.0.0' },
  capabilities: { 'fs.read': ['/var/log'], exec: ['df'], http: [] },
};

const parse = (patch: Record<string, unknown>) =>
  parseManifest(JSON.stringify({ ...good, ...patch }));

describe('manifest', () => {
  it('manifest - a full manifest parses with every field kept', () => {
    expect(parse({})).toEqual(good);
  });

  it('manifest - missing optional fields get empty defaults', () => {
    const m = parseManifest(
      JSON.stringify({ name: 'a', version: '0.1.0', owners: ['bo'], visibility: 'public' }),
    );
    expect(m).toMatchObject({ description: '', tags: [], dependencies: {}, capabilities: {} });
  });

  it.each([
    ['an uppercase name', { name: 'Acme/Disk' }, /name: a name is up to 8 lowercase segments/],
    ['an empty segment', { name: 'acme//disk' }, /name:/],
    ['a dot-dot segment', { name: 'acme/../x' }, /name:/],
    ['a bad version', { version: '1.2' }, /version: must be a semantic version/],
    ['build metadata', { version: '1.0.0+abc' }, /version:/],
    ['no owners', { owners: [] }, /owners: a package needs at least one owner/],
    ['an owner twice', { owners: ['al', 'AL'] }, /owner is listed twice/],
    ['an unknown visibility', { visibility: 'friends' }, /visibility:/],
    [
      'a bad range',
      { dependencies: { 'acme/fmt': 'soon' } },
      /dependencies.acme\/fmt: must be a semver range/,
    ],
    ['a self dependency', { dependencies: { 'acme/disk/usage': '*' } }, /cannot need itself/],
    ['an unknown capability', { capabilities: { root: [] } }, /capabilities/],
    ['an unknown field', { scripts: { postinstall: 'rm -rf /' } }, /unknown field scripts/],
    ['a control character', { description: 'a\u001b[2Jb' }, /description: must not hold control/],
    ['a bad tag', { tags: ['Has Space'] }, /tags.0: tags are lowercase/],
  ])('manifest - %s is refused with a clear message', (_what, patch, message) => {
    expect(() => parse(patch)).toThrow(message);
  });

  it('manifest - text that is not JSON is refused, never evaluated', () => {
    expect(() => parseManifest('module.exports = { name: "x" }')).toThrow(/not valid JSON/);
    expect(() => parseManifest('{"name": 1')).toThrow(/script.json is not valid JSON/);
  });

  it('manifest - HTML in a description stays text', () => {
    expect(parse({ description: '<script>alert(1)</script>' }).description).toBe(
      '<script>alert(1)</script>',
    );
  });

  it('manifest - the canonical form does not depend on the order keys were written in', () => {
    const a = parse({ dependencies: { b: '1', a: '2' } });
    const b = parse({ dependencies: { a: '2', b: '1' } });
    expect(canonicalManifest(a)).toBe(canonicalManifest(b));
  });
});
