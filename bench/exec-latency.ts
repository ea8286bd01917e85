/** Row 1: `true` through endpoint and one agent process, against spawning `sh -c true` here. */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  accountWithToken,
  logProblems,
  percentile,
  progress,
  round,
  spawnAgentProcess,
  startEndpointProcess,
  stopProcess,
  tempDir,
  waitFor,
  type EndpointProcess,
  type ScenarioResult,
} from './lib.ts';

const SCENARIO = 'exec-latency';
const ACCOUNT = 'bench-latency';
const MAX_AGENT_STARTS = 3;
const WARMUP_RUNS = 10;
const MEASURED_RUNS = 200;
/** The foundation issue's budget for what the relay may add to a local spawn, at p50. */
const TARGET_ADDED_P50_MS = 5;
const AGENT_ONLINE_TIMEOUT_MS = 60_000;
const PROGRESS_EVERY_RUNS = 50;

interface ExecAnswer {
  exitCode: number | null;
  durationMs: number;
}

export async function runExecLatency(): Promise<ScenarioResult> {
  const dataDir = tempDir('exec-latency');
  progress(SCENARIO, 'starting the endpoint process');
  const endpoint = await startEndpointProcess(dataDir);
  try {
    const joinToken = await accountWithToken(endpoint.api, ACCOUNT, MAX_AGENT_STARTS);
    progress(SCENARIO, 'starting one agent process');
    const { agent, failedStarts } = await startLinkedAgent(endpoint, joinToken, dataDir);
    const { agents } = await endpoint.api.call<{ agents: Array<{ id: string }> }>(
      'GET',
      `/api/v1/agents?account=${ACCOUNT}`,
    );
    const agentId = agents[0].id;

    const relay = (): Promise<ExecAnswer> =>
      endpoint.api.call<ExecAnswer>('POST', `/api/v1/agents/${agentId}/exec`, { argv: ['true'] });
    for (let i = 1; i <= WARMUP_RUNS; i += 1) {
      await relay();
      await spawnLocally();
    }
    progress(SCENARIO, `warmed up (${WARMUP_RUNS} runs each)`);

    // Interleaved, so that load from anything else on the machine falls on both alike.
    const relayMs: number[] = [];
    const serverMs: number[] = [];
    const localMs: number[] = [];
    let failures = 0;
    for (let i = 1; i <= MEASURED_RUNS; i += 1) {
      const began = performance.now();
      const answer = await relay();
      relayMs.push(performance.now() - began);
      serverMs.push(answer.durationMs);
      if (answer.exitCode !== 0) failures += 1;
      localMs.push(await spawnLocally());
      if (i % PROGRESS_EVERY_RUNS === 0) progress(SCENARIO, `measured ${i}/${MEASURED_RUNS}`);
    }
    await stopProcess(agent);
    const result = summarise(relayMs, serverMs, localMs, failures, logProblems(endpoint.logFile));
    result.notes.push(
      ...failedStarts.map(
        (f) => `exec-latency: agent process died before ` + `linking and was replaced: ${f}`,
      ),
    );
    return result;
  } finally {
    endpoint.api.close();
    await stopProcess(endpoint.child);
  }
}

/**
 * Starts the agent process and waits for its link. One that exits first is replaced by one
 * with a fresh state folder (ssh2 1.17 writes an unreadable key about once in 256 starts).
 */
async function startLinkedAgent(endpoint: EndpointProcess, joinToken: string, dataDir: string) {
  const failedStarts: string[] = [];
  for (let attempt = 1; attempt <= MAX_AGENT_STARTS; attempt += 1) {
    const stateDir = join(dataDir, `agent-${attempt}`);
    const args = { endpoint: endpoint.url, joinToken, stateDir };
    const agent = spawnAgentProcess('latency-agent', args);
    const exited = (): boolean => agent.exitCode !== null || agent.signalCode !== null;
    await waitFor(
      'the agent to link or exit',
      async () => exited() || (await endpoint.api.agentsLinked()) === 1,
      AGENT_ONLINE_TIMEOUT_MS,
    );
    if (!exited()) return { agent, failedStarts };
    const said = readFileSync(`${stateDir}.log`, 'utf8').split('\n')[0];
    failedStarts.push(`exit ${agent.exitCode ?? agent.signalCode}: ${said}`);
  }
  throw new Error(`the agent died before linking ${MAX_AGENT_STARTS} times: ${failedStarts[0]}`);
}

/** What `child_process.spawn` costs here: start `sh -c true`, wait for exit and closed pipes. */
function spawnLocally(): Promise<number> {
  const began = performance.now();
  return new Promise((done, fail) => {
    const child = spawn('sh', ['-c', 'true'], { stdio: 'pipe' });
    child.once('error', fail);
    child.once('close', () => done(performance.now() - began));
  });
}

function summarise(
  relayMs: number[],
  serverMs: number[],
  localMs: number[],
  failures: number,
  problems: ReturnType<typeof logProblems>,
): ScenarioResult {
  const relay = { p50: percentile(relayMs, 50), p99: percentile(relayMs, 99) };
  const local = { p50: percentile(localMs, 50), p99: percentile(localMs, 99) };
  const added = relay.p50 - local.p50;
  const notes: string[] = [];
  if (failures > 0) {
    notes.push(`exec-latency: ${failures} of ${MEASURED_RUNS} runs exited non-zero`);
  }
  if (problems.error + problems.warn > 0) {
    notes.push(
      `exec-latency: endpoint log has ${problems.error} error and ${problems.warn} warn ` +
        `lines: ${problems.samples.join('; ')}`,
    );
  }
  return {
    rows: [
      {
        measure: `exec true, p50 (ms, ${MEASURED_RUNS} runs)`,
        tether: ms(relay.p50),
        baseline: `${ms(local.p50)} local spawn`,
        diff: `relay adds ${ms(added)} ms`,
        target: `≤ ${TARGET_ADDED_P50_MS} ms added`,
        met: added <= TARGET_ADDED_P50_MS,
      },
      {
        measure: `exec true, p99 (ms, ${MEASURED_RUNS} runs)`,
        tether: ms(relay.p99),
        baseline: `${ms(local.p99)} local spawn`,
        diff: `+${ms(relay.p99 - local.p99)} ms`,
        target: '—',
        met: null,
      },
      {
        measure: 'exec true, fastest run (ms; least touched by other load)',
        tether: ms(Math.min(...relayMs)),
        baseline: `${ms(Math.min(...localMs))} local spawn`,
        diff: `+${ms(Math.min(...relayMs) - Math.min(...localMs))} ms`,
        target: '—',
        met: null,
      },
      {
        measure: 'exec true, endpoint-reported durationMs p50',
        tether: ms(percentile(serverMs, 50)),
        baseline: '—',
        diff: `${ms(relay.p50 - percentile(serverMs, 50))} ms outside it`,
        target: '—',
        met: null,
      },
    ],
    details: {
      runs: MEASURED_RUNS,
      warmups: WARMUP_RUNS,
      failures,
      relayMs: stats(relayMs),
      endpointDurationMs: stats(serverMs),
      localSpawnMs: stats(localMs),
      endpointLog: problems,
    },
    notes,
  };
}

function stats(samples: number[]) {
  return {
    min: round(Math.min(...samples)),
    p50: round(percentile(samples, 50)),
    p90: round(percentile(samples, 90)),
    p99: round(percentile(samples, 99)),
    max: round(Math.max(...samples)),
  };
}

function ms(value: number): string {
  return value.toFixed(2);
}
