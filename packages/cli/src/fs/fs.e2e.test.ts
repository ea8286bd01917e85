/**
 * `tether fs` and `tether cp` end to end: the real command as a child process against a real
 * endpoint and agent (in this process), on real temp folders.
 */
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliHarness, until } from '../e2e-harness.ts';

const AGENT = 'files-box';
const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

let dir: string;
let srv: string;
let local: string;
let endpoint: { url: string; adminToken: string; close(): Promise<void> };
let agent: { agentId: string; close(): Promise<void> };
let h: CliHarness;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tether-fs-e2e-'));
  srv = join(dir, 'srv');
  local = join(dir, 'local');
  mkdirSync(srv);
  mkdirSync(local);
  const { startEndpoint } = await import('@tether/endpoint');
  const { startAgent } = await import('@tether/agent');
  endpoint = await startEndpoint({
    dataDir: join(dir, 'endpoint'),
    listen: { host: '127.0.0.1', port: 0 },
    logLevel: 'silent',
  });
  h = new CliHarness(dir, endpoint);
  const { account } = await h.api<{ account: { id: string } }>('POST', '/api/v1/accounts', {
    name: 'acme',
  });
  await h.api('PUT', `/api/v1/accounts/${account.id}/consent`, {
    fileReadMode: 'allow',
    fileWriteMode: 'allow',
    pathAllow: [srv],
  });
  const { token } = await h.api<{ token: string }>('POST', '/api/v1/join-tokens', {
    account: 'acme',
  });
  agent = await startAgent({
    endpoint: endpoint.url,
    joinToken: token,
    stateDir: join(dir, 'agent'),
    name: AGENT,
    logLevel: 'silent',
  });
  await until(async () => (await h.agentRow(agent.agentId)).online);
}, 60_000);

afterAll(async () => {
  const leaked = h?.children.size ?? 0;
  for (const child of h?.children ?? []) child.kill('SIGKILL');
  await agent?.close();
  await endpoint?.close();
  rmSync(dir, { recursive: true, force: true });
  expect(leaked, 'every tether child process has exited').toBe(0);
});

describe('cli - files', () => {
  it('fs ls - a table of the folder, and --json with every field', async () => {
    writeFileSync(join(srv, 'hosts'), '127.0.0.1 localhost\n');
    mkdirSync(join(srv, 'conf.d'));
    const run = await h.tether(['fs', 'ls', `${AGENT}:${srv}`]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^MODE +OWNER +GROUP +SIZE +MODIFIED +NAME\n/);
    expect(run.stdout).toMatch(/drwxr-xr-x +root +root .* conf\.d\/\n/);
    expect(run.stdout).toMatch(/-rw-r--r-- +root +root +20 .* hosts\n/);
    const json = JSON.parse((await h.tether(['fs', 'ls', '--json', `${AGENT}:${srv}`])).stdout);
    expect(json.find((e: any) => e.name === 'hosts')).toMatchObject({ type: 'file', size: 20 });
  });

  it('fs cat - prints the file; a path outside the allowed folders is a clear error', async () => {
    writeFileSync(join(srv, 'motd'), 'hello from the server\n');
    const run = await h.tether(['fs', 'cat', `${AGENT}:${join(srv, 'motd')}`]);
    expect(run.stdout).toBe('hello from the server\n');
    const denied = await h.tether(['fs', 'cat', `${AGENT}:/etc/passwd`]);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toBe(
      'tether: reading /etc/passwd: the path is outside the folders this account allows\n',
    );
    const bad = await h.tether(['fs', 'cat', 'no-colon-here']);
    expect(bad.stderr).toContain('is not AGENT:/absolute/path');
  });

  it('cp - uploads several files into a folder and downloads them back', async () => {
    const a = join(local, 'a.txt');
    const b = join(local, 'b.bin');
    writeFileSync(a, 'alpha\n');
    writeFileSync(b, randomBytes(300_000));
    mkdirSync(join(srv, 'drop'));
    const up = await h.tether(['cp', a, b, `${AGENT}:${join(srv, 'drop')}/`]);
    expect(up.code).toBe(0);
    expect(up.stderr).toContain(`b.bin → ${AGENT}:${join(srv, 'drop', 'b.bin')} (300000 bytes)`);
    expect(readFileSync(join(srv, 'drop', 'a.txt'), 'utf8')).toBe('alpha\n');
    expect(sha256(readFileSync(join(srv, 'drop', 'b.bin')))).toBe(sha256(readFileSync(b)));

    const back = join(local, 'back');
    mkdirSync(back);
    const down = await h.tether(['cp', `${AGENT}:${join(srv, 'drop', 'b.bin')}`, back]);
    expect(down.code).toBe(0);
    expect(sha256(readFileSync(join(back, 'b.bin')))).toBe(sha256(readFileSync(b)));
    expect(readdirSync(back)).toEqual(['b.bin']);
  });

  it('cp - a folder downloads as .tar.gz', async () => {
    mkdirSync(join(srv, 'site', 'css'), { recursive: true });
    writeFileSync(join(srv, 'site', 'index.html'), '<p>hi</p>');
    const run = await h.tether(['cp', `${AGENT}:${join(srv, 'site')}`, local]);
    expect(run.code).toBe(0);
    const out = mkdtempSync(join(dir, 'untar-'));
    execFileSync('tar', ['-xzf', join(local, 'site.tar.gz'), '-C', out]);
    expect(readFileSync(join(out, 'site', 'index.html'), 'utf8')).toBe('<p>hi</p>');
    expect(statSync(join(out, 'site', 'css')).isDirectory()).toBe(true);
  });

  it('cp - an interrupted download resumes from its part file; a changed file starts over', async () => {
    const data = randomBytes(2_000_000);
    writeFileSync(join(srv, 'big.bin'), data);
    const target = join(local, 'big.bin');
    const whole = await h.tether(['cp', `${AGENT}:${join(srv, 'big.bin')}`, target]);
    expect(whole.code).toBe(0);
    // What an interrupted run leaves: the first bytes, and the ETag they came with.
    const etag = await etagOf(join(srv, 'big.bin'));
    rmSync(target);
    writeFileSync(`${target}.tether-part`, data.subarray(0, 700_000));
    writeFileSync(`${target}.tether-part.etag`, etag);

    const resumed = await h.tether(['cp', `${AGENT}:${join(srv, 'big.bin')}`, target]);
    expect(resumed.code).toBe(0);
    expect(resumed.stderr).toContain('resuming big.bin at byte 700000');
    expect(sha256(readFileSync(target))).toBe(sha256(data));
    expect(existsSync(`${target}.tether-part`)).toBe(false);

    const changed = randomBytes(1_000_000);
    writeFileSync(join(srv, 'big.bin'), changed);
    rmSync(target);
    writeFileSync(`${target}.tether-part`, data.subarray(0, 700_000));
    writeFileSync(`${target}.tether-part.etag`, etag);
    const restarted = await h.tether(['cp', `${AGENT}:${join(srv, 'big.bin')}`, target]);
    expect(restarted.stderr).not.toContain('resuming');
    expect(sha256(readFileSync(target))).toBe(sha256(changed));
  });

  it('fs edit - $EDITOR edits a local copy; the diff is shown and the file saved', async () => {
    const conf = join(srv, 'app.conf');
    writeFileSync(conf, 'port = 80\nworkers = 2\n');
    chmodSync(conf, 0o640);
    const editor = script('editor.sh', `sed -i 's/port = 80/port = 8080/' "$1"`);
    const run = await h.tether(['fs', 'edit', `${AGENT}:${conf}`], '', { EDITOR: editor });
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('-port = 80\n+port = 8080');
    expect(run.stderr).toContain(`saved ${AGENT}:${conf}`);
    expect(readFileSync(conf, 'utf8')).toBe('port = 8080\nworkers = 2\n');
    expect(statSync(conf).mode & 0o777).toBe(0o640);
  });

  it('fs edit - a file changed on the server meanwhile is not overwritten; the local copy is kept', async () => {
    const conf = join(srv, 'race.conf');
    writeFileSync(conf, 'v1\n');
    // The "editor" edits the copy while someone else changes the file on the server.
    const editor = script('racing-editor.sh', `echo mine > "$1"; echo theirs > ${conf}`);
    const run = await h.tether(['fs', 'edit', `${AGENT}:${conf}`], '', { EDITOR: editor });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('changed on the server while you edited; nothing was saved');
    expect(readFileSync(conf, 'utf8')).toBe('theirs\n');
    const kept = /kept at (\S+)\./.exec(run.stderr)![1];
    expect(readFileSync(kept, 'utf8')).toBe('mine\n');
    rmSync(join(kept, '..'), { recursive: true, force: true });
  });

  it('fs mkdir, mv, chmod, rm - change the tree and each is in the history', async () => {
    const base = `${AGENT}:${join(srv, 'tree')}`;
    expect((await h.tether(['fs', 'mkdir', '-m', '750', base])).code).toBe(0);
    expect(statSync(join(srv, 'tree')).mode & 0o777).toBe(0o750);
    writeFileSync(join(srv, 'tree', 'a'), 'a');
    expect((await h.tether(['fs', 'mv', `${base}/a`, join(srv, 'tree', 'b')])).code).toBe(0);
    expect((await h.tether(['fs', 'chmod', '600', `${base}/b`])).code).toBe(0);
    expect(statSync(join(srv, 'tree', 'b')).mode & 0o777).toBe(0o600);
    const refused = await h.tether(['fs', 'rm', base]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('the folder is not empty');
    expect((await h.tether(['fs', 'rm', '-r', base])).code).toBe(0);
    expect(existsSync(join(srv, 'tree'))).toBe(false);
    const { events } = await h.api<{ events: { kind: string }[] }>(
      'GET',
      `/api/v1/agents/${agent.agentId}/file-events?limit=5`,
    );
    expect(
      events
        .map((e) => e.kind)
        .slice(0, 4)
        .reverse(),
    ).toEqual(['mkdir', 'rename', 'chmod', 'delete']);
  });
});

function script(name: string, body: string): string {
  const file = join(dir, name);
  writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return file;
}

/** The ETag the endpoint gives the file, as a download's response carries it. */
async function etagOf(path: string): Promise<string> {
  const { session } = await h.api<{ session: { id: string } }>(
    'POST',
    `/api/v1/agents/${agent.agentId}/file-sessions`,
    {},
  );
  const response = await fetch(
    `${endpoint.url}/api/v1/file-sessions/${session.id}/download?path=${encodeURIComponent(path)}`,
    { headers: { authorization: `Bearer ${endpoint.adminToken}` } },
  );
  await response.arrayBuffer();
  await h.api('DELETE', `/api/v1/file-sessions/${session.id}`);
  return response.headers.get('etag')!;
}
