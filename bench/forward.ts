/**
 * Port forward rows: 1 GB down one forwarded connection (target → `tether forward` → client)
 * beside the same bytes straight over loopback, and connection setup (connect until the first
 * echoed byte) p50/p99 through the forward beside a direct connect. Endpoint, agent and the
 * `tether forward` command each run as their own process; the targets run in this one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';
import {
  accountWithToken,
  percentile,
  progress,
  REPO_ROOT,
  round,
  spawnAgentProcess,
  startEndpointProcess,
  stopProcess,
  tempDir,
  TETHER_CLI,
  waitFor,
  LOOPBACK,
  BenchError,
  type Row,
  type ScenarioResult,
} from './lib.ts';

const SCENARIO = 'forward';
const ACCOUNT = 'bench-forward';
/** The 1 GB; TETHER_BENCH_FORWARD_MB shrinks it for a quick look. */
const PAYLOAD_MB = Number(process.env.TETHER_BENCH_FORWARD_MB ?? 1024);
const SETUP_SAMPLES = 200;
/** Bytes the source writes per call: large enough that the loopback baseline is not syscalls. */
const SOURCE_CHUNK_BYTES = 1024 * 1024;
const FORWARDING_LINE = /forwarding 127\.0\.0\.1:(\d+) ->/;

export async function runForward(): Promise<ScenarioResult> {
  const dataDir = tempDir('forward');
  progress(SCENARIO, 'starting the endpoint and one agent');
  const endpoint = await startEndpointProcess(dataDir);
  const joinToken = await accountWithToken(endpoint.api, ACCOUNT, 1);
  spawnAgentProcess('forward-agent', {
    endpoint: endpoint.url,
    joinToken,
    stateDir: join(dataDir, 'agent'),
  });
  let agentId = '';
  let accountId = '';
  await waitFor(
    'the agent to link',
    async () => {
      const { agents } = await endpoint.api.call<{
        agents: Array<{ id: string; online: boolean; accountId: string }>;
      }>('GET', `/api/v1/agents?account=${ACCOUNT}`);
      agentId = agents[0]?.id ?? '';
      accountId = agents[0]?.accountId ?? '';
      return agents[0]?.online === true;
    },
    60_000,
  );
  await endpoint.api.call('PUT', `/api/v1/accounts/${accountId}/consent`, {
    forwardMode: 'allow',
  });

  const adminToken = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
  const source = await listen((socket) => {
    socket.on('error', () => {});
    writeMegabytes(socket, PAYLOAD_MB);
  });
  const echo = await listen((socket) => {
    socket.on('error', () => {});
    socket.pipe(socket);
  });
  const rows: Row[] = [];
  const details: Record<string, unknown> = {};
  try {
    progress(SCENARIO, `${PAYLOAD_MB} MB straight over loopback`);
    const directMbps = await download(port(source));
    progress(SCENARIO, `${PAYLOAD_MB} MB through tether forward`);
    const down = await forwardCommand(endpoint.url, adminToken, agentId, port(source), dataDir);
    const forwardMbps = await download(down.port);
    await down.stop();
    details.throughput = { directMbps, forwardMbps, megabytes: PAYLOAD_MB };
    rows.push({
      measure: `${PAYLOAD_MB} MB down one forwarded connection, MB/s`,
      tether: String(round(forwardMbps, 1)),
      baseline: `${round(directMbps, 1)} loopback`,
      diff: `${round(forwardMbps / directMbps, 3)}x`,
      target: '—',
      met: null,
    });

    progress(SCENARIO, `connection setup, ${SETUP_SAMPLES} direct and ${SETUP_SAMPLES} forwarded`);
    const direct = await setupSamples(port(echo));
    const through = await forwardCommand(endpoint.url, adminToken, agentId, port(echo), dataDir);
    const forwarded = await setupSamples(through.port);
    await through.stop();
    details.setup = { direct, forwarded };
    for (const p of [50, 99]) {
      const [t, b] = [percentile(forwarded, p), percentile(direct, p)];
      rows.push({
        measure: `connection setup to first echoed byte p${p}, ms`,
        tether: String(round(t)),
        baseline: `${round(b)} loopback`,
        diff: `+${round(t - b)}`,
        target: '—',
        met: null,
      });
    }
  } finally {
    source.close();
    echo.close();
    await stopProcess(endpoint.child);
  }
  return {
    rows,
    details,
    notes: [
      'forward: one connection carries target → local client; the client, targets and bench run in one process, endpoint, agent and tether forward in their own.',
    ],
  };
}

/** `tether forward AGENT 0:127.0.0.1:PORT --quiet` as the admin; resolves with its local port. */
async function forwardCommand(
  url: string,
  token: string,
  agentId: string,
  targetPort: number,
  dataDir: string,
): Promise<{ port: number; stop(): Promise<void> }> {
  const child: ChildProcess = spawn(
    process.execPath,
    [TETHER_CLI, 'forward', agentId, `0:${LOOPBACK}:${targetPort}`, '--quiet'],
    {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, TETHER_URL: url, TETHER_TOKEN: token, HOME: dataDir },
    },
  );
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  await waitFor('tether forward to listen', async () => FORWARDING_LINE.test(out), 60_000, 50);
  const local = Number(FORWARDING_LINE.exec(out)![1]);
  return { port: local, stop: async () => void (await stopProcess(child, 10_000)) };
}

/** Connects, reads until the source ends, and answers MB/s (10^6 bytes) over the whole read. */
function download(targetPort: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    let bytes = 0;
    const socket = connect({ host: LOOPBACK, port: targetPort });
    socket.on('data', (chunk: Buffer) => (bytes += chunk.length));
    socket.on('error', reject);
    socket.on('end', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (bytes !== PAYLOAD_MB * 1024 * 1024)
        return reject(new BenchError(`got ${bytes} bytes of ${PAYLOAD_MB} MiB`));
      resolve(bytes / 1e6 / seconds);
    });
  });
}

/** Sequential connects: milliseconds from connect() to the first byte echoed back. */
async function setupSamples(targetPort: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < SETUP_SAMPLES; i++) {
    samples.push(
      await new Promise<number>((resolve, reject) => {
        const started = process.hrtime.bigint();
        const socket = connect({ host: LOOPBACK, port: targetPort });
        socket.setNoDelay(true);
        socket.once('data', () => {
          resolve(Number(process.hrtime.bigint() - started) / 1e6);
          socket.destroy();
        });
        socket.on('error', reject);
        socket.write('x');
      }),
    );
  }
  return samples;
}

function writeMegabytes(socket: import('node:net').Socket, megabytes: number): void {
  const chunk = Buffer.alloc(SOURCE_CHUNK_BYTES, 0x5a);
  let left = megabytes;
  const more = (): void => {
    while (left > 0) {
      left -= 1;
      if (!socket.write(chunk)) return void socket.once('drain', more);
    }
    socket.end();
  };
  more();
}

async function listen(onConnection: (socket: import('node:net').Socket) => void): Promise<Server> {
  const server = createServer(onConnection);
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK, resolve));
  return server;
}

function port(server: Server): number {
  return (server.address() as AddressInfo).port;
}
