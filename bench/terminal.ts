/**
 * Terminal rows: output throughput of `head -c 200M /dev/urandom | base64` through agent →
 * endpoint → 1 and 10 WebSocket viewers (recording on), beside the same bytes from a local pty;
 * keystroke echo p50/p99 through the relay beside a local pty, idle and while another session
 * floods; endpoint memory per live session. The endpoint's CPU time per MB relayed is printed
 * too: on a shared machine it moves far less than the rates do.
 */
import { join } from 'node:path';
import WebSocket from 'ws';
import {
  accountWithToken,
  cpuMs,
  percentile,
  progress,
  round,
  rssKb,
  sleep,
  spawnAgentProcess,
  startEndpointProcess,
  stopProcess,
  tempDir,
  waitFor,
  type EndpointProcess,
  type Row,
  type ScenarioResult,
} from './lib.ts';

const SCENARIO = 'terminal';
const ACCOUNT = 'bench-terminal';
/** The payload; TETHER_BENCH_TERMINAL_MB shrinks it for a quick look. */
const PAYLOAD_MB = Number(process.env.TETHER_BENCH_TERMINAL_MB ?? 200);
const FLOOD_COMMAND = `head -c ${PAYLOAD_MB}M /dev/urandom | base64; echo __DONE$((1+1))__\r`;
const DONE_MARK = '__DONE2__';
const ECHO_SAMPLES = 200;
/** The aims. */
const TARGET_MB_PER_S = 50;
const TARGET_ADDED_P50_MS = 2;
const TARGET_ADDED_P99_MS = 10;
const TARGET_FLOOD_P99_MS = 10;
const IDLE_SESSIONS_FOR_MEMORY = 10;
const CUSTOMER_PASSWORD = 'bench customer password';

interface Viewer {
  ws: WebSocket;
  bytes: number;
  tail: string;
  /** Called once at the next output, then forgotten: echo timing waits on these, not on polls. */
  waiters: Array<() => void>;
}

export async function runTerminal(): Promise<ScenarioResult> {
  // The agent's shell is $SHELL: plain sh, so this machine's rc files do not enter the figures.
  process.env.SHELL = '/bin/sh';
  const dataDir = tempDir('terminal');
  progress(SCENARIO, 'starting the endpoint and one agent');
  const endpoint = await startEndpointProcess(dataDir);
  const joinToken = await accountWithToken(endpoint.api, ACCOUNT, 1);
  spawnAgentProcess('terminal-agent', {
    endpoint: endpoint.url,
    joinToken,
    stateDir: join(dataDir, 'agent'),
  });
  let agentId = '';
  await waitFor(
    'the agent to link',
    async () => {
      const { agents } = await endpoint.api.call<{
        agents: Array<{ id: string; online: boolean }>;
      }>('GET', `/api/v1/agents?account=${ACCOUNT}`);
      agentId = agents[0]?.id ?? '';
      return agents[0]?.online === true;
    },
    60_000,
  );
  const customer = await customerToken(endpoint);
  const rows: Row[] = [];
  const cpuRows: Row[] = [];
  const details: Record<string, unknown> = {};
  try {
    const local = await localThroughput();
    for (const viewers of [1, 10]) {
      progress(SCENARIO, `throughput, ${PAYLOAD_MB} MB through the relay to ${viewers} viewer(s)`);
      const { mbps, cpuMsPerMb } = await relayThroughput(endpoint, agentId, customer, viewers);
      details[`throughput${viewers}`] = mbps;
      details[`cpuMsPerMb${viewers}`] = cpuMsPerMb;
      rows.push({
        measure: `terminal output MB/s, ${viewers} viewer${viewers > 1 ? 's' : ''}, recording on`,
        tether: String(round(mbps, 1)),
        baseline: `${round(local, 1)} local pty`,
        diff: `${round(mbps / local, 2)}x`,
        target: `≥ ${TARGET_MB_PER_S}`,
        met: mbps >= TARGET_MB_PER_S,
      });
      cpuRows.push({
        measure: `endpoint CPU ms per MB relayed, ${viewers} viewer${viewers > 1 ? 's' : ''}`,
        tether: String(round(cpuMsPerMb, 1)),
        baseline: '',
        diff: '',
        target: '',
        met: null,
      });
    }
    rows.push(...cpuRows);

    progress(SCENARIO, 'keystroke echo, local pty and through the relay');
    const localEcho = await echoLocal();
    const relay = await openSession(endpoint, agentId, customer);
    const idle = await echoSamples(relay);
    progress(SCENARIO, 'keystroke echo while another session floods');
    const flood = await openSession(endpoint, agentId, customer);
    flood.ws.send(Buffer.from('yes\r'));
    await sleep(500);
    const busy = await echoSamples(relay);
    flood.ws.send(Buffer.from('\x03exit\r'));
    details.echo = { localEcho, idle, busy };
    const [lp50, lp99] = [percentile(localEcho, 50), percentile(localEcho, 99)];
    const [ip50, ip99] = [percentile(idle, 50), percentile(idle, 99)];
    const bp99 = percentile(busy, 99);
    rows.push(
      {
        measure: 'keystroke echo p50 ms, idle',
        tether: String(round(ip50)),
        baseline: `${round(lp50)} local pty`,
        diff: `+${round(ip50 - lp50)}`,
        target: `+≤ ${TARGET_ADDED_P50_MS}`,
        met: ip50 - lp50 <= TARGET_ADDED_P50_MS,
      },
      {
        measure: 'keystroke echo p99 ms, idle',
        tether: String(round(ip99)),
        baseline: `${round(lp99)} local pty`,
        diff: `+${round(ip99 - lp99)}`,
        target: `+≤ ${TARGET_ADDED_P99_MS}`,
        met: ip99 - lp99 <= TARGET_ADDED_P99_MS,
      },
      {
        measure: 'keystroke echo p99 ms, another session flooding',
        tether: String(round(bp99)),
        baseline: `${round(lp99)} local pty`,
        diff: `+${round(bp99 - lp99)}`,
        target: `≤ ${TARGET_FLOOD_P99_MS}`,
        met: bp99 <= TARGET_FLOOD_P99_MS,
      },
    );
    relay.ws.send(Buffer.from('exit\r'));

    progress(SCENARIO, `endpoint memory for ${IDLE_SESSIONS_FOR_MEMORY} idle sessions`);
    await sleep(1000);
    const before = rssKb(endpoint.pid);
    const idleSessions: Viewer[] = [];
    for (let i = 0; i < IDLE_SESSIONS_FOR_MEMORY; i++)
      idleSessions.push(await openSession(endpoint, agentId, customer));
    await sleep(1000);
    const perSessionKb = (rssKb(endpoint.pid) - before) / IDLE_SESSIONS_FOR_MEMORY;
    idleSessions.forEach((s) => s.ws.close());
    rows.push({
      measure: 'endpoint memory per live session (MB RSS)',
      tether: String(round(perSessionKb / 1024, 2)),
      baseline: '',
      diff: '',
      target: '',
      met: null,
    });
  } finally {
    endpoint.api.close();
    await stopProcess(endpoint.child, 30_000);
  }
  return {
    rows,
    details,
    notes: [
      `terminal: the agent was a separate process; ${PAYLOAD_MB} MB of random bytes became ` +
        `${round((PAYLOAD_MB * 4) / 3, 0)} MB of base64 output; each viewer's socket was read ` +
        'as fast as it came.',
    ],
  };
}

async function customerToken(endpoint: EndpointProcess): Promise<string> {
  const username = 'bench-customer';
  await endpoint.api.call('POST', '/api/v1/users', {
    username,
    role: 'customer',
    account: ACCOUNT,
    password: CUSTOMER_PASSWORD,
  });
  const login = await fetch(`${endpoint.url}/api/v1/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password: CUSTOMER_PASSWORD }),
  });
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0];
  const created = await fetch(`${endpoint.url}/api/v1/api-tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie },
    body: JSON.stringify({ name: 'bench' }),
  });
  return ((await created.json()) as { token: string }).token;
}

/** Asks (as the admin), approves (as the customer), and opens the engineer's socket. */
async function openSession(
  endpoint: EndpointProcess,
  agentId: string,
  customer: string,
): Promise<Viewer & { session: string }> {
  const { approval } = await endpoint.api.call<{ approval: { id: string } }>(
    'POST',
    `/api/v1/agents/${agentId}/terminal-requests`,
    { cols: 80, rows: 24 },
  );
  await fetch(`${endpoint.url}/api/v1/approvals/${approval.id}/approve`, {
    method: 'POST',
    headers: { authorization: `Bearer ${customer}` },
  });
  const token = (endpoint.api as unknown as { token: string }).token;
  const query = `approval=${approval.id}&agent=${agentId}`;
  const viewer = connect(`${endpoint.url}/api/v1/terminals/socket?${query}`, token);
  const session = await new Promise<string>((resolve, reject) => {
    viewer.ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) return;
      const message = JSON.parse(data.toString()) as { type: string; session?: string };
      if (message.type === 'hello') resolve(message.session!);
      if (message.type === 'error') reject(new Error(data.toString()));
    });
  });
  await sleep(300);
  return Object.assign(viewer, { session });
}

function connect(url: string, token: string): Viewer {
  const ws = new WebSocket(url.replace(/^http/, 'ws'), {
    headers: { authorization: `Bearer ${token}` },
    perMessageDeflate: false,
  });
  const viewer: Viewer = { ws, bytes: 0, tail: '', waiters: [] };
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (!isBinary) return;
    viewer.bytes += data.length;
    viewer.tail = (viewer.tail + data.toString('latin1')).slice(-256);
    wake(viewer);
  });
  return viewer;
}

async function relayThroughput(
  endpoint: EndpointProcess,
  agentId: string,
  customer: string,
  viewers: number,
): Promise<{ mbps: number; cpuMsPerMb: number }> {
  const engineer = await openSession(endpoint, agentId, customer);
  const watchers: Viewer[] = [];
  for (let i = 1; i < viewers; i++)
    watchers.push(connect(`${endpoint.url}/api/v1/terminals/${engineer.session}/socket`, customer));
  await sleep(500);
  const start = performance.now();
  const startCpu = cpuMs(endpoint.pid);
  const startBytes = engineer.bytes;
  engineer.ws.send(Buffer.from(FLOOD_COMMAND));
  await waitFor('the flood to end', async () => engineer.tail.includes(DONE_MARK), 600_000, 20);
  const seconds = (performance.now() - start) / 1000;
  const cpu = cpuMs(endpoint.pid) - startCpu;
  const mb = (engineer.bytes - startBytes) / 1e6;
  engineer.ws.send(Buffer.from('exit\r'));
  watchers.forEach((w) => w.ws.close());
  await sleep(300);
  return { mbps: mb / seconds, cpuMsPerMb: cpu / mb };
}

async function localThroughput(): Promise<number> {
  progress(SCENARIO, `throughput, ${PAYLOAD_MB} MB from a local pty`);
  const pty = await import('@lydell/node-pty');
  const term = pty.spawn('/bin/sh', ['-c', FLOOD_COMMAND.replace(/\r$/, '')], {
    cols: 80,
    rows: 24,
    encoding: null,
  });
  let bytes = 0;
  let tail = '';
  const start = performance.now();
  await new Promise<void>((resolve) => {
    term.onData((data) => {
      bytes += data.length;
      tail = (tail + (data as unknown as Buffer).toString('latin1')).slice(-256);
    });
    term.onExit(() => resolve());
  });
  return bytes / 1e6 / ((performance.now() - start) / 1000);
}

/** Sends one character at a time and times its echo; a backspace after each keeps the line short. */
async function echoSamples(viewer: Viewer): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < ECHO_SAMPLES + 10; i++) {
    const start = performance.now();
    await typed(viewer, 'x');
    if (i >= 10) samples.push(performance.now() - start);
    await typed(viewer, '\x7f');
  }
  return samples;
}

function typed(viewer: Viewer, key: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no echo within 10 s')), 10_000);
    viewer.waiters.push(() => {
      clearTimeout(timer);
      resolve();
    });
    viewer.ws.send(Buffer.from(key));
  });
}

function wake(viewer: Viewer): void {
  const waiting = viewer.waiters;
  viewer.waiters = [];
  waiting.forEach((w) => w());
}

async function echoLocal(): Promise<number[]> {
  const pty = await import('@lydell/node-pty');
  const term = pty.spawn('/bin/bash', ['--norc'], { cols: 80, rows: 24, encoding: null });
  const fake = {
    ws: { send: (b: Buffer) => term.write(b as unknown as string) },
    bytes: 0,
    tail: '',
    waiters: [],
  } as unknown as Viewer;
  term.onData((data) => {
    fake.bytes += data.length;
    wake(fake);
  });
  try {
    await sleep(300);
    return await echoSamples(fake);
  } finally {
    // A pty left open would keep the bench process alive after a failed sample.
    term.kill();
  }
}
