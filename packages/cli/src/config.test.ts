/** Tests for where the CLI finds its endpoint and token, and how the login is saved. */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { configPath, loadSaved, resolveConnection, saveConfig } from './config.ts';
import { UsageError } from './errors.ts';

const saved = { url: 'https://saved.example', token: 'tth_saved' };
const env = { TETHER_URL: 'https://env.example', TETHER_TOKEN: 'tth_env' };

describe('cli - config resolution', () => {
  it('config - flags win over the environment and the saved login', () => {
    const flags = { url: 'https://flag.example', token: 'tth_flag' };
    expect(resolveConnection(flags, env, saved)).toEqual({
      url: 'https://flag.example',
      token: 'tth_flag',
      tokenSource: '--token',
    });
  });

  it('config - the environment wins over the saved login', () => {
    const fromEnv = { url: 'https://env.example', token: 'tth_env', tokenSource: 'TETHER_TOKEN' };
    expect(resolveConnection({}, env, saved)).toEqual(fromEnv);
  });

  it('config - the saved login is used when nothing else is given', () => {
    expect(resolveConnection({}, {}, saved)).toEqual({ ...saved, tokenSource: 'saved login' });
  });

  it('config - a flag token works with the saved URL', () => {
    expect(resolveConnection({ token: 'tth_flag' }, {}, saved)).toEqual({
      url: 'https://saved.example',
      token: 'tth_flag',
      tokenSource: '--token',
    });
  });

  it('config - the saved token is never sent to a different endpoint', () => {
    const connection = resolveConnection({ url: 'https://other.example' }, {}, saved);
    expect(connection).toEqual({ url: 'https://other.example' });
  });

  it('config - the saved token still goes to its own endpoint given by flag', () => {
    const connection = resolveConnection({ url: 'https://saved.example/' }, {}, saved);
    expect(connection.token).toBe('tth_saved');
  });

  it('config - the source of the token is named as the user would set it', () => {
    const source = (flags: { token?: string }, environment: Record<string, string>) =>
      resolveConnection({ url: saved.url, ...flags }, environment, saved).tokenSource;
    expect(source({ token: 'tth_flag' }, env)).toBe('--token');
    expect(source({}, { TETHER_TOKEN: 'tth_env' })).toBe('TETHER_TOKEN');
    expect(source({}, {})).toBe('saved login');
  });

  it('config - no URL anywhere is a usage error that says what to do', () => {
    expect(() => resolveConnection({}, {}, undefined)).toThrow(UsageError);
    expect(() => resolveConnection({}, {}, undefined)).toThrow(/--url.*TETHER_URL.*tether login/);
  });

  it('config - a URL that is not http or https is refused', () => {
    const resolveUrl = (url: string) => () => resolveConnection({ url }, {}, undefined);
    expect(resolveUrl('ftp://x')).toThrow('http:// or https://');
    expect(resolveUrl('nope')).toThrow('invalid endpoint URL');
  });

  it('config - credentials in the URL are refused rather than sent along', () => {
    const flags = { url: 'https://me:secret@x.example' };
    expect(() => resolveConnection(flags, {}, undefined)).toThrow('not in the URL');
  });

  it('config - the path follows XDG_CONFIG_HOME, else ~/.config', () => {
    expect(configPath({ XDG_CONFIG_HOME: '/xdg' }, '/home/me')).toBe('/xdg/tether/config.json');
    expect(configPath({}, '/home/me')).toBe('/home/me/.config/tether/config.json');
  });
});

describe('cli - saved login', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tether-cli-config-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('config - the saved file is readable by its owner only', async () => {
    const path = join(dir, 'tether', 'config.json');
    await saveConfig(path, saved);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(await loadSaved(path)).toEqual(saved);
  });

  it('config - saving over a looser file tightens it to 0600', async () => {
    const path = join(dir, 'config.json');
    await writeFile(path, '{}', { mode: 0o644 });
    await saveConfig(path, saved);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual(saved);
  });

  it('config - a missing file means not logged in', async () => {
    expect(await loadSaved(join(dir, 'absent.json'))).toBeUndefined();
  });

  it('config - a broken file is reported, not ignored', async () => {
    const path = join(dir, 'config.json');
    await writeFile(path, 'not json');
    await expect(loadSaved(path)).rejects.toThrow('run tether login again');
  });
});
