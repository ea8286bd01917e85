/**
 * End to end: the real `tether` command (node bin/tether.mjs, as a child process) against a real
 * endpoint and a real agent, both started in this process on loopback.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuditEventView } from '@tether/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { BIN, CliHarness, closedPort, commandOf, ROOT, rssBytes, until } from './e2e-harness.ts';

const AGENT_NAME = 'e2e-box';
const ACCOUNT = 'acme';
const OUT_ERR_EXIT_3 = 'echo out; echo err >&2; exit 3';
/** Enough output that, were it buffered instead of paused, the RSS limit below would fail. */
const BIG_OUTPUT_BYTES = 256 * 1024 * 1024;
const SLOW_READER_PAUSE_MS = 1;
const RSS_SAMPLE_MS = 50;
const RSS_LIMIT_BYTES = 200 * 1024 * 1024;

let dir: string;
let endpoint: { url: string; adminToken: string; close(): Promise<void> };
let agent: { agentId: string; close(): Promise<void> };
let h: CliHarness;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tether-cli-e2e-'));
  const { startEndpoint } = await import('@tether/endpoint');
  const { startAgent } = await import('@tether/agent');
  endpoint = await startEndpoint({
    dataDir: join(dir, 'endpoint'),
    listen: { host: '127.0.0.1', port: 0 },
    logLevel: 'silent',
  });
  h = new CliHarness(dir, endpoint);

  await h.api('POST', '/api/v1/accounts', { name: ACCOUNT });
  const joinToken = { account: ACCOUNT };
  const { token } = await h.api<{ token: string }>('POST', '/api/v1/join-tokens', joinToken);
  agent = await startAgent({
    endpoint: endpoint.url,
    joinToken: token,
    stateDir: join(dir, 'agent'),
    name: AGENT_NAME,
    logLevel: 'silent',
  });
  await until(async () => (await h.agentRow(agent.agentId)).online);
}, 60_000);

afterAll(async () => {
  const leaked = h?.children.size ?? 0;
  for (const child of h?.children ?? []) child.kill('SIGKILL');
  await agent?.close();
  await endpoint?.close();
  await rm(dir, { recursive: true, force: true });
  expect(leaked, 'every tether child process has exited').toBe(0);
});

describe('cli - end to end', () => {
  it('cli - agents ls --json lists the enrolled agent as online', async () => {
    const run = await h.tether(['agents', 'ls', '--json']);
    expect(run.code).toBe(0);
    const agents = JSON.parse(run.stdout);
    const expected = { id: agent.agentId, name: AGENT_NAME, accountName: ACCOUNT, online: true };
    expect(agents).toEqual([expect.objectContaining(expected)]);
  });

  it('cli - agents ls prints a table with the agent as seen now', async () => {
    const run = await h.tether(['agents', 'ls']);
    expect(run.stdout).toMatch(/^ID +NAME +ACCOUNT +ONLINE +OS +ARCH +VERSION +LAST SEEN\n/);
    const row = `${agent.agentId} +${AGENT_NAME} +${ACCOUNT} +yes .* now\\n`;
    expect(run.stdout).toMatch(new RegExp(row));
  });

  it('cli - exec keeps stdout and stderr apart and exits with the remote status', async () => {
    const run = await h.tether(['exec', AGENT_NAME, '--', 'sh', '-c', OUT_ERR_EXIT_3]);
    expect(run).toMatchObject({ code: 3, stdout: 'out\n', stderr: 'err\n' });
  });

  it('cli - exec by id passes cwd, env and stdin through', async () => {
    const script = 'echo "$PWD $GREETING"; cat';
    const args = ['exec', agent.agentId, '--cwd', '/', '--env', 'GREETING=hi there', '--stdin'];
    const run = await h.tether([...args, '--', 'sh', '-c', script], 'from stdin\n');
    expect(run).toMatchObject({ code: 0, stdout: '/ hi there\nfrom stdin\n' });
  });

  it('cli - exec streams 256 MiB into a slow reader in bounded memory', async () => {
    // The slow reader makes this take tens of seconds on a loaded machine: a deadline of its own,
    // so the test is about memory, not the default 30 s command timeout.
    const head = ['head', '-c', String(BIG_OUTPUT_BYTES), '/dev/zero'];
    const args = ['exec', AGENT_NAME, '--timeout', '5m', '--', ...head];
    const child = spawn(process.execPath, [BIN, ...args], {
      env: h.childEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    h.children.add(child);
    let received = 0;
    child.stdout.on('data', (chunk: Buffer) => {
      received += chunk.length;
      child.stdout.pause();
      setTimeout(() => child.stdout.resume(), SLOW_READER_PAUSE_MS);
    });
    let mostRss = 0;
    const sampler = setInterval(() => {
      mostRss = Math.max(mostRss, rssBytes(child.pid!));
    }, RSS_SAMPLE_MS);

    const code = await new Promise((resolveExit) => child.once('close', resolveExit));
    clearInterval(sampler);
    h.children.delete(child);

    expect(code).toBe(0);
    expect(received).toBe(BIG_OUTPUT_BYTES);
    // Measured: about 130 MiB with the socket paused, about 440 MiB for 300 MB without.
    expect(mostRss).toBeLessThan(RSS_LIMIT_BYTES);
  }, 120_000);

  it('cli - exec past its timeout says so and exits 124', async () => {
    const started = Date.now();
    const run = await h.tether(['exec', AGENT_NAME, '--timeout', '1s', '--', 'sleep', '10']);
    expect(run.code).toBe(124);
    expect(run.stderr).toContain('tether: command timed out after 1s');
    expect(Date.now() - started).toBeLessThan(9_000);
  }, 20_000);

  it('cli - Ctrl-C cancels the remote command and exits 130', async () => {
    const started = Date.now();
    const running = h.start(['exec', AGENT_NAME, '--', 'sleep', '37']);
    await until(async () => {
      const events = await h.recentEvents();
      return events.some((e) => e.code === 'T3001I' && commandOf(e) === 'sleep 37');
    });
    running.child.kill('SIGINT');
    const run = await running.done;
    expect(run.code).toBe(130);
    expect(run.stderr).toContain('tether: cancelling the command');

    const events = await h.recentEvents();
    const ended = events.find((e) => e.event === 'exec' && commandOf(e) === 'sleep 37');
    expect(ended, 'the remote command ended long before its 37 s').toBeDefined();
    expect(Date.now() - started).toBeLessThan(20_000);
  }, 30_000);

  it('cli - a reader that goes away stops the remote command, as SIGPIPE would', async () => {
    const running = h.start(['exec', AGENT_NAME, '--', 'yes', 'pipe-test']);
    await until(async () => running.stdout().length > 0);
    running.child.stdout!.destroy();
    const run = await running.done;
    expect(run.code, run.stderr).toBe(141);

    const events = await h.recentEvents();
    const ended = events.find((e) => e.event === 'exec' && commandOf(e) === 'yes pipe-test');
    expect(ended, 'the remote yes was stopped').toBeDefined();
  }, 20_000);

  it('cli - exec on an unknown agent names it and exits 1', async () => {
    const run = await h.tether(['exec', 'nope', '--', 'true']);
    const stderr = 'tether: no agent named "nope" or with that id\n';
    expect(run).toMatchObject({ code: 1, stderr });
  });

  it('cli - exec with an AGENT and --agents is a usage error naming both', async () => {
    const run = await h.tether(['exec', 'local', '--agents', AGENT_NAME, '--', 'id']);
    const stderr = 'tether: give an AGENT or --agents, not both (got AGENT "local")\n';
    expect(run).toMatchObject({ code: 1, stdout: '', stderr });
  });

  it('cli - exec with a command but no AGENT says the AGENT is missing', async () => {
    const run = await h.tether(['exec', '--', 'id']);
    const stderr = 'tether: give an AGENT (name or id), or --agents/--account\n';
    expect(run).toMatchObject({ code: 1, stderr });
  });

  it("cli - exec --timeout past 24h is refused in the CLI's own words", async () => {
    const run = await h.tether(['exec', AGENT_NAME, '--timeout', '25h', '--', 'true']);
    expect(run).toMatchObject({ code: 1, stderr: 'tether: --timeout must be at most 24h\n' });
  });

  it('cli - exec --agents prints one row per agent and exits 0 when all succeed', async () => {
    const run = await h.tether(['exec', '--agents', AGENT_NAME, '--', 'sh', '-c', 'echo hi']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^AGENT +EXIT +DURATION +OUTPUT\n/);
    expect(run.stdout).toMatch(new RegExp(`${AGENT_NAME} +0 +\\S+ +hi\\n`));
  });

  it('cli - exec --account --json reports each result and exits 1 on a failure', async () => {
    const args = ['exec', '--account', ACCOUNT, '--json', '--', 'sh', '-c', 'exit 4'];
    const run = await h.tether(args);
    expect(run.code).toBe(1);
    const { results } = JSON.parse(run.stdout);
    const result = expect.objectContaining({ exitCode: 4 });
    const row = { agentId: agent.agentId, ok: true, result };
    expect(results).toEqual([expect.objectContaining(row)]);
  });

  it('cli - audit ls --json shows the command that ran', async () => {
    const args = ['audit', 'ls', '--json', '--code', 'T3000I', '--agent', AGENT_NAME];
    const run = await h.tether(args);
    expect(run.code).toBe(0);
    const events = JSON.parse(run.stdout);
    const ran = events.find((e: AuditEventView) => commandOf(e) === `sh -c ${OUT_ERR_EXIT_3}`);
    expect(ran).toMatchObject({ code: 'T3000I', agentId: agent.agentId, actorName: 'admin' });
    expect(ran.result).toMatchObject({ exitCode: 3 });
  });

  it("cli - audit ls shows each event's agent by name", async () => {
    const args = ['audit', 'ls', '--code', 'T3000I', '--agent', agent.agentId, '--limit', '1'];
    const run = await h.tether(args);
    expect(run.code).toBe(0);
    const row = run.stdout.trimEnd().split('\n')[1];
    expect(row.split(/ +/)[4]).toBe(AGENT_NAME);
  });

  it('cli - audit ls --agent with a name no agent has is an error', async () => {
    const run = await h.tether(['audit', 'ls', '--agent', 'nosuch']);
    expect(run).toMatchObject({ code: 1, stdout: '', stderr: 'tether: no agent named nosuch\n' });
  });

  it('cli - audit ls stops at --limit and prints a table', async () => {
    const run = await h.tether(['audit', 'ls', '--since', '1h', '--limit', '3']);
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^TIME +CODE +EVENT +ACTOR +AGENT +SUMMARY$/);
    expect(lines).toHaveLength(4);
  });

  it('cli - audit verify finds the chain intact', async () => {
    const run = await h.tether(['audit', 'verify']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^audit chain ok: \d+ events\n$/);
  });

  it('cli - audit tail prints events as they happen and stops on Ctrl-C', async () => {
    const tail = h.start(['audit', 'tail', '--json']);
    await until(async () => {
      await h.api('GET', '/api/v1/agents');
      return tail.stdout().includes('"T2005I"');
    });
    const line = tail
      .stdout()
      .split('\n')
      .find((text) => text.includes('"T2005I"'))!;
    expect(JSON.parse(line)).toMatchObject({ code: 'T2005I', event: 'agent.list' });
    tail.child.kill('SIGINT');
    expect((await tail.done).code).toBe(130);
  }, 20_000);

  it('cli - audit tail reconnects when its endpoint restarts, and says so', async () => {
    const { startEndpoint } = await import('@tether/endpoint');
    const dataDir = join(dir, 'restarting');
    const options = { dataDir, listen: { host: '127.0.0.1', port: 0 }, logLevel: 'silent' };
    let second = await startEndpoint(options);
    const port = Number(new URL(second.url).port);
    const env = { TETHER_URL: second.url, TETHER_TOKEN: second.adminToken };
    const tail = h.start(['audit', 'tail'], '', env);
    const headers = { authorization: `Bearer ${env.TETHER_TOKEN}` };
    const poke = () => fetch(`${second.url}/api/v1/agents`, { headers });

    await until(async () => (await poke(), tail.stdout().includes('T2005I')));
    await second.close();
    await until(async () => tail.stderr().includes('reconnecting in'));
    second = await startEndpoint({ ...options, listen: { host: '127.0.0.1', port } });
    await until(async () => tail.stderr().includes('tether: reconnected; events since'), 20_000);
    const before = tail.stdout().split('T2005I').length;
    await until(async () => (await poke(), tail.stdout().split('T2005I').length > before));

    tail.child.kill('SIGINT');
    expect((await tail.done).code).toBe(130);
    await second.close();
  }, 40_000);

  it('cli - tokens create prints the token, its expiry and the install command', async () => {
    const run = await h.tether(['tokens', 'create', '--account', ACCOUNT, '--ttl', '10m']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^token: +\S+\n/);
    expect(run.stdout).toMatch(/expires: +\d{4}-\d\d-\d\dT/);
    expect(run.stdout).toContain(`curl -fsSL ${endpoint.url}/install.sh | sh -s -- --join-token`);
  });

  it('cli - without a token it says how to sign in', async () => {
    const run = await h.tether(['agents', 'ls'], '', { TETHER_TOKEN: '' });
    expect(run).toMatchObject({
      code: 1,
      stdout: '',
      stderr: 'tether: not signed in: set TETHER_TOKEN or run tether login\n',
    });
  });

  it('cli - a refused token from --token is named as such, not as "not signed in"', async () => {
    const run = await h.tether(['whoami', '--token', 'tth_bogus']);
    const advice = 'run tether login or set a valid TETHER_TOKEN';
    const stderr = `tether: the endpoint refused the token from --token: ${advice}\n`;
    expect(run).toMatchObject({ code: 1, stdout: '', stderr });
  });

  it('cli - a refused token from TETHER_TOKEN or the saved login names its source', async () => {
    const fromEnv = await h.tether(['whoami'], '', { TETHER_TOKEN: 'tth_bogus' });
    expect(fromEnv.stderr).toMatch(/^tether: the endpoint refused the token from TETHER_TOKEN: /);

    const config = join(dir, 'bogus-config');
    await mkdir(join(config, 'tether'), { recursive: true });
    const saved = { url: endpoint.url, token: 'tth_bogus' };
    await writeFile(join(config, 'tether', 'config.json'), JSON.stringify(saved));
    const signedOut = { TETHER_URL: '', TETHER_TOKEN: '', XDG_CONFIG_HOME: config };
    const fromSaved = await h.tether(['whoami'], '', signedOut);
    expect(fromSaved.code).toBe(1);
    expect(fromSaved.stderr).toMatch(/^tether: the endpoint refused the token from saved login: /);
  });

  it('cli - login with an empty password says one is needed', async () => {
    const signedOut = { TETHER_URL: '', TETHER_TOKEN: '' };
    const args = ['login', endpoint.url, '--username', 'alice', '--password-stdin'];
    const run = await h.tether(args, '\n', signedOut);
    expect(run).toMatchObject({ code: 1, stderr: 'tether: a password is needed\n' });
  });

  it('cli - login saves a token only its owner can read, and later commands use it', async () => {
    const password = 'a long enough password';
    await h.api('POST', '/api/v1/users', { username: 'alice', role: 'engineer', password });
    const signedOut = { TETHER_URL: '', TETHER_TOKEN: '' };

    const login = await h.tether(
      ['login', endpoint.url, '--username', 'alice', '--password-stdin'],
      `${password}\n`,
      signedOut,
    );
    expect(login.code).toBe(0);
    expect(login.stdout).toContain(`signed in to ${endpoint.url} as alice`);
    const saved = await stat(join(dir, 'config', 'tether', 'config.json'));
    expect(saved.mode & 0o777).toBe(0o600);

    const whoami = await h.tether(['whoami'], '', signedOut);
    expect(whoami).toMatchObject({ code: 0, stdout: `alice (engineer) at ${endpoint.url}\n` });
  });

  it('cli - login on a terminal asks for the password without echoing it', async () => {
    const { spawn: spawnPty } = await import('@lydell/node-pty');
    const password = 'typed at a terminal';
    await h.api('POST', '/api/v1/users', { username: 'bob', role: 'engineer', password });
    const env = h.childEnv({ TETHER_URL: '', TETHER_TOKEN: '' });
    const pty = spawnPty(process.execPath, [BIN, 'login', endpoint.url], { cwd: ROOT, env });
    let screen = '';
    let running = true;
    pty.onData((text) => (screen += text));
    const exited = new Promise<number>((resolveExit) =>
      pty.onExit(({ exitCode }) => {
        running = false;
        resolveExit(exitCode);
      }),
    );

    try {
      await until(async () => screen.includes('username: '));
      pty.write('bob\r');
      await until(async () => screen.includes('password: '));
      pty.write(`${password}\r`);

      expect(await exited).toBe(0);
      expect(screen).toContain(`signed in to ${endpoint.url} as bob`);
      expect(screen).not.toContain(password);
    } finally {
      if (running) pty.kill();
    }
  }, 20_000);

  it('cli - login with a wrong password is refused without a stack trace', async () => {
    const signedOut = { TETHER_URL: '', TETHER_TOKEN: '' };
    const args = ['login', endpoint.url, '--username', 'alice', '--password-stdin'];
    const run = await h.tether(args, 'wrong\n', signedOut);
    const stderr = 'tether: sign-in refused: wrong username or password\n';
    expect(run).toMatchObject({ code: 1, stderr });
  });

  it('cli - an endpoint that is not there is named in the error', async () => {
    const port = await closedPort();
    const run = await h.tether(['agents', 'ls', '--url', `http://127.0.0.1:${port}`]);
    const target = `127.0.0.1:${port}`;
    const stderr = `tether: cannot reach http://${target}: connect ECONNREFUSED ${target}\n`;
    expect(run).toMatchObject({ code: 1, stderr });
  });

  it('cli - exec on an offline agent says so and exits 2', async () => {
    await agent.close();
    await until(async () => !(await h.agentRow(agent.agentId)).online);
    const run = await h.tether(['exec', AGENT_NAME, '--', 'true']);
    expect(run).toMatchObject({ code: 2, stderr: `tether: agent ${AGENT_NAME} is offline\n` });
  }, 20_000);

  it('cli - agents revoke cuts the agent off', async () => {
    const run = await h.tether(['agents', 'revoke', AGENT_NAME]);
    const stdout = `revoked agent ${AGENT_NAME} (${agent.agentId})\n`;
    expect(run).toMatchObject({ code: 0, stdout });
    expect((await h.agentRow(agent.agentId)).revokedAt).toBeTruthy();
  });

  it('cli - agents ls shows a revoked agent as revoked', async () => {
    const run = await h.tether(['agents', 'ls']);
    expect(run.stdout).toMatch(new RegExp(`${agent.agentId} +${AGENT_NAME} +${ACCOUNT} +revoked `));
  });

  it('cli - exec on a revoked agent says so and exits 2', async () => {
    const run = await h.tether(['exec', AGENT_NAME, '--', 'true']);
    expect(run).toMatchObject({ code: 2, stderr: `tether: agent ${AGENT_NAME} was revoked\n` });
  });

  it('cli - no output ever holds the admin token', () => {
    expect(h.outputs.join('\n')).not.toContain(endpoint.adminToken);
  });
});

/**
 * An endpoint that answers as the real one will once it reports revoked agents: a listing,
 * then an exec stream refused before the upgrade (HTTP 410) or with an error frame after it.
 */
describe('cli - exec against a scripted endpoint', () => {
  const agents = [
    { id: 'id-refused', name: 'refused-410', reply: 'http' },
    { id: 'id-frame', name: 'revoked-frame', reply: 'frame' },
    { id: 'id-schema', name: 'schema-frame', reply: 'invalid' },
  ];
  const wire = {
    agent_revoked: { code: 'agent_revoked', message: 'agent revoked' },
    invalid: { code: 'invalid_request', message: 'Too big: expected number to be <=86400000' },
  };
  let server: Server;
  let sockets: WebSocketServer;
  let env: Record<string, string>;

  beforeAll(async () => {
    sockets = new WebSocketServer({ noServer: true });
    server = createServer((_request, response) => {
      const rows = agents.map(({ id, name }) => ({ id, name, accountName: ACCOUNT, online: true }));
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ agents: rows }));
    });
    server.on('upgrade', (request, socket, head) => {
      const target = agents.find(({ id }) => request.url?.includes(`/agents/${id}/`));
      if (target?.reply === 'http') {
        const body = JSON.stringify({ error: wire.agent_revoked });
        socket.end(`HTTP/1.1 410 Gone\r\ncontent-type: application/json\r\n\r\n${body}`);
        return;
      }
      sockets.handleUpgrade(request, socket, head, (ws) => {
        ws.once('message', () => {
          const error = target?.reply === 'frame' ? wire.agent_revoked : wire.invalid;
          ws.send(JSON.stringify({ type: 'error', error }));
          ws.close(1000);
        });
      });
    });
    await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
    const { port } = server.address() as AddressInfo;
    env = { TETHER_URL: `http://127.0.0.1:${port}`, TETHER_TOKEN: 'tth_scripted' };
  });

  afterAll(async () => {
    for (const ws of sockets.clients) ws.terminate();
    sockets.close();
    await new Promise((resolveClose) => server.close(resolveClose));
  });

  it.each(['refused-410', 'revoked-frame'])(
    'cli - exec on %s, which the endpoint calls revoked, says so and exits 2',
    async (name) => {
      const run = await h.tether(['exec', name, '--', 'true'], '', env);
      expect(run).toMatchObject({ code: 2, stderr: `tether: agent ${name} was revoked\n` });
    },
  );

  it('cli - an error the endpoint streams is prefixed by what was being done', async () => {
    const run = await h.tether(['exec', 'schema-frame', '--', 'true'], '', env);
    const stderr = `tether: running the command on schema-frame: ${wire.invalid.message}\n`;
    expect(run).toMatchObject({ code: 1, stderr });
  });
});
