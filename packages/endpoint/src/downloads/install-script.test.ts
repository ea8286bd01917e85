/** The install one-liner and script, run by sh against a real endpoint serving fake builds. */
import { execFile, execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AGENT_DOWNLOADS, installCommand, type AgentArch } from '@tether/protocol';
import { installErrorHandling } from '../http/errors.ts';
import { renderInstallScript } from './install-script.ts';
import { registerDownloads } from './routes.ts';

/** curl, sha256sum and one fake agent run: well under a second; generous for a loaded CI. */
const RUN_TIMEOUT_MS = 20_000;
/** A fixed mtime lets a test swap a build's bytes without the digest cache noticing. */
const FIXED_MTIME_S = 1_700_000_000;
const TOKEN = 'jt_live_0123456789abcdef';

const work = mkdtempSync(join(tmpdir(), 'tether-install-test-'));
const distDir = join(work, 'dist');
const argsFile = join(work, 'agent-args');
const machine = execFileSync('uname', ['-m'], { encoding: 'utf8' }).trim();
const hostArch: AgentArch = machine === 'aarch64' || machine === 'arm64' ? 'arm64' : 'x64';
let app: FastifyInstance;
let baseUrl: string;

/** Records its arguments NUL-separated, so any byte a token holds survives the trip. */
function fakeAgent(arch: AgentArch): string {
  return [
    '#!/bin/sh',
    `# fake tether-agent for ${arch}`,
    `printf '%s\\0' "$@" > '${argsFile}'`,
    'for arg; do',
    '  [ "$arg" = --enroll-only ] && { echo "enrolled as fake (agent-1)"; exit 0; }',
    'done',
    'exit 2',
    '',
  ].join('\n');
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function sh(command: string, env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return new Promise((resolve) => {
    execFile('sh', ['-c', command], { env, timeout: RUN_TIMEOUT_MS }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** The one-liner as a person pastes it, plus options that keep it inside the test folder. */
function install(token: string, dirs: { prefix: string; state: string }, extra = ''): string {
  const options = `--prefix '${dirs.prefix}' --state '${dirs.state}' --no-service ${extra}`;
  return `${installCommand(baseUrl, token)} ${options}`;
}

function recordedArgs(): string[] {
  return readFileSync(argsFile, 'utf8').split('\0').slice(0, -1);
}

function freshDirs(): { prefix: string; state: string } {
  const dir = mkdtempSync(join(work, 'target-'));
  return { prefix: join(dir, 'bin'), state: join(dir, 'state') };
}

function writeBuilds(): void {
  mkdirSync(distDir, { recursive: true });
  for (const arch of Object.keys(AGENT_DOWNLOADS) as AgentArch[]) {
    const file = join(distDir, AGENT_DOWNLOADS[arch]);
    writeFileSync(file, fakeAgent(arch));
    chmodSync(file, 0o755);
    utimesSync(file, FIXED_MTIME_S, FIXED_MTIME_S);
  }
}

function rawGet(path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    // Host, port and path apart: given one URL string, node would resolve the `..` itself.
    const { hostname, port } = new URL(baseUrl);
    const req = request({ hostname, port, path }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  writeBuilds();
  app = Fastify();
  installErrorHandling(app);
  await registerDownloads(app, { distDir, publicUrl: (req) => `${req.protocol}://${req.host}` });
  baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  await app.close();
  rmSync(work, { recursive: true, force: true });
});

beforeEach(() => {
  rmSync(argsFile, { force: true });
});

describe('install.sh', () => {
  it('install.sh - installs the build for this uname -m, enrolls, says how to start', async () => {
    const dirs = freshDirs();

    const run = await sh(install(TOKEN, dirs, '--name web-1'));

    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const installed = join(dirs.prefix, 'tether-agent');
    expect(readFileSync(installed, 'utf8')).toBe(fakeAgent(hostArch));
    expect(statSync(installed).mode & 0o777).toBe(0o755);
    expect(recordedArgs()).toEqual([
      '--endpoint',
      baseUrl,
      '--join-token',
      TOKEN,
      '--state',
      dirs.state,
      '--enroll-only',
      '--name',
      'web-1',
    ]);
    expect(run.stdout).toContain(`start the agent with:\n  ${installed} --state ${dirs.state}\n`);
    expect(run.stdout + run.stderr).not.toContain(TOKEN);
  });

  it('install.sh - a wrong checksum stops it before anything is installed', async () => {
    const dirs = freshDirs();
    const build = join(distDir, AGENT_DOWNLOADS[hostArch]);
    const original = readFileSync(build);
    await rawGet(`/downloads/${AGENT_DOWNLOADS[hostArch]}.sha256`);
    writeFileSync(build, Buffer.from(original.toString('utf8').replace('fake', 'evil')));
    utimesSync(build, FIXED_MTIME_S, FIXED_MTIME_S);

    try {
      const run = await sh(install(TOKEN, dirs));

      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/checksum mismatch for tether-agent-linux-\w+ .*nothing was/);
      expect(existsSync(join(dirs.prefix, 'tether-agent'))).toBe(false);
      expect(existsSync(argsFile)).toBe(false);
      expect(run.stdout + run.stderr).not.toContain(TOKEN);
    } finally {
      writeBuilds();
      utimesSync(build, FIXED_MTIME_S + 1, FIXED_MTIME_S + 1);
    }
  });

  it('install.sh - a machine that is neither x86_64 nor aarch64 is told so', async () => {
    const fakeBin = mkdtempSync(join(work, 'bin-'));
    const uname = '#!/bin/sh\n[ "$1" = -m ] && echo mips64 || echo Linux\n';
    writeFileSync(join(fakeBin, 'uname'), uname);
    chmodSync(join(fakeBin, 'uname'), 0o755);

    const env = { ...process.env, PATH: `${fakeBin}:${process.env.PATH}` };
    const run = await sh(install(TOKEN, freshDirs()), env);

    expect(run.code).toBe(1);
    expect(run.stderr).toContain('there is no agent for mips64');
  });

  it('install.sh - a missing --join-token is refused without a download', async () => {
    const run = await sh(`curl -fsSL '${baseUrl}/install.sh' | sh -s -- --no-service`);

    expect(run.code).toBe(1);
    expect(run.stderr).toContain('--join-token TOKEN is required');
  });

  it('install.sh - a mistyped option is named but a stray value is never echoed', async () => {
    const typo = await sh(`curl -fsSL '${baseUrl}/install.sh' | sh -s -- --join-tokn ${TOKEN}`);
    const stray = await sh(`curl -fsSL '${baseUrl}/install.sh' | sh -s -- ${TOKEN}`);

    expect(typo.stderr).toContain('unknown option --join-tokn');
    expect(stray.stderr).toContain('unexpected argument');
    expect(typo.stderr + stray.stderr).not.toContain(TOKEN);
  });

  it('install.sh - a hostile base URL stays one literal word in the script', async () => {
    const marker = join(work, `pwned-${randomBytes(4).toString('hex')}`);
    const hostile = `http://127.0.0.1:1/'$(touch ${marker})\`touch ${marker}\`"`;
    const script = join(work, 'hostile-install.sh');
    writeFileSync(script, renderInstallScript(hostile));

    const run = await sh(`sh '${script}' --join-token x --prefix '${work}/p' --no-service`);

    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`could not download ${hostile}/downloads/`);
    expect(existsSync(marker)).toBe(false);
  });
});

describe('installCommand', () => {
  const marker = () => join(tmpdir(), `pwned-${randomBytes(6).toString('hex')}`);
  const cases = [
    { name: 'a quote that closes and a comment', token: (m: string) => `'; touch ${m} #` },
    { name: 'command substitution', token: (m: string) => `$(touch ${m})` },
    { name: 'backticks', token: (m: string) => `\`touch ${m}\`` },
    {
      name: 'spaces, double quotes, a backslash and a newline',
      token: (m: string) => `a "b" \\c\n$(touch ${m}) 'd'`,
    },
  ];

  for (const { name, token } of cases) {
    it(`installCommand - a token with ${name} reaches the agent literally`, async () => {
      const file = marker();
      const hostile = token(file);

      const run = await sh(install(hostile, freshDirs()));

      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      const args = recordedArgs();
      expect(args[args.indexOf('--join-token') + 1]).toBe(hostile);
      expect(existsSync(file)).toBe(false);
      expect(run.stdout).not.toContain(hostile);
    });
  }

  it('installCommand - a plain URL and token stay readable', () => {
    expect(installCommand('https://support.example.com/', 'jt_abc-123')).toBe(
      'curl -fsSL https://support.example.com/install.sh | sh -s -- --join-token jt_abc-123',
    );
  });
});

describe('downloads routes', () => {
  it('downloads - lists each build with its size and SHA-256', async () => {
    const res = await app.inject({ url: '/downloads/' });

    expect(res.statusCode).toBe(200);
    const expected = (Object.keys(AGENT_DOWNLOADS) as AgentArch[]).map((arch) => {
      const bytes = readFileSync(join(distDir, AGENT_DOWNLOADS[arch]));
      return {
        name: AGENT_DOWNLOADS[arch],
        arch,
        size: bytes.length,
        sha256: createHash('sha256').update(bytes).digest('hex'),
        url: `http://localhost:80/downloads/${AGENT_DOWNLOADS[arch]}`,
      };
    });
    expect(res.json()).toEqual({ files: expected });
  });

  it('downloads - serves a build and its sum file', async () => {
    const name = AGENT_DOWNLOADS.arm64;
    const bytes = readFileSync(join(distDir, name));

    const file = await app.inject({ url: `/downloads/${name}` });
    const sum = await app.inject({ url: `/downloads/${name}.sha256` });
    const head = await app.inject({ method: 'HEAD', url: `/downloads/${name}` });

    expect(file.statusCode).toBe(200);
    expect(file.headers['content-type']).toBe('application/octet-stream');
    expect(file.rawPayload.equals(bytes)).toBe(true);
    const hex = createHash('sha256').update(bytes).digest('hex');
    expect(sum.body).toBe(`${hex}  ${name}\n`);
    expect(head.statusCode).toBe(200);
    expect(head.headers['content-length']).toBe(String(bytes.length));
    expect(head.body).toBe('');
  });

  it('downloads - serves the install script as a shell script', async () => {
    const res = await app.inject({ url: '/install.sh' });

    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/x-shellscript; charset=utf-8');
    expect(res.body).toMatch(/^#!\/bin\/sh\n/);
    expect(res.body).toContain('\nBASE_URL=http://localhost:80\n');
  });

  const notFound = [
    { name: 'an unknown name', path: '/downloads/tether-agent-linux-mips' },
    { name: 'an unknown sum file', path: '/downloads/package.json.sha256' },
    { name: 'an encoded ..', path: '/downloads/..%2F..%2Fpackage.json' },
    { name: 'an encoded .. before a known name', path: '/downloads/..%2Ftether-agent-linux-x64' },
    { name: 'a bare ..', path: '/downloads/..' },
    { name: 'a raw ../ path', path: '/downloads/../downloads/tether-agent-linux-x64' },
    { name: 'an absolute path', path: '/downloads/%2Fetc%2Fpasswd' },
  ];

  for (const { name, path } of notFound) {
    it(`downloads - ${name} is a 404 with the JSON error shape`, async () => {
      const res = await rawGet(path);

      expect(res.status).toBe(404);
      expect(JSON.parse(res.body)).toMatchObject({ error: { code: 'not_found' } });
    });
  }

  it('downloads - a build that is not there says how to make it', async () => {
    const empty = Fastify();
    installErrorHandling(empty);
    await registerDownloads(empty, { distDir: join(work, 'nothing'), publicUrl: () => baseUrl });

    try {
      const file = await empty.inject({ url: `/downloads/${AGENT_DOWNLOADS.x64}` });
      const sum = await empty.inject({ url: `/downloads/${AGENT_DOWNLOADS.x64}.sha256` });
      const list = await empty.inject({ url: '/downloads/' });

      for (const res of [file, sum]) {
        expect(res.statusCode).toBe(404);
        expect(res.json().error.code).toBe('not_found');
        expect(res.json().error.message).toContain('npm run build:agent');
      }
      expect(list.json()).toEqual({ files: [] });
    } finally {
      await empty.close();
    }
  });
});
