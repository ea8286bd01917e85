/** Row 3: endpoint memory per idle agent link, and how fast 1,000 links return after a restart. */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { SwarmCommand, SwarmReport } from './agent-swarm.ts';
import {
  accountWithToken,
  BenchError,
  logProblems,
  progress,
  rssKb,
  RUN_TS,
  sleep,
  spawnTracked,
  startEndpointProcess,
  stopProcess,
  tempDir,
  type EndpointProcess,
  type ScenarioResult,
} from './lib.ts';

const SCENARIO = 'idle-agents';
const ACCOUNT = 'bench-idle';
const AGENT_COUNT = 1_000;
/** The foundation issue's budgets. */
const TARGET_KB_PER_AGENT = 100;
const TARGET_RECONNECT_MS = 60_000;
/** Idle time before sampling RSS, so V8's idle-time GC gets its chance. */
const SETTLE_MS = 5_000;
const RSS_SAMPLES = 10;
const RSS_SAMPLE_INTERVAL_MS = 500;
const ENROLL_TIMEOUT_MS = 150_000;
const LINK_TIMEOUT_MS = 120_000;
/** Reconnect backoff is capped at 60 s, so 150 s leaves room to see how far past target it is. */
const RECONNECT_TIMEOUT_MS = 150_000;
const HEALTH_POLL_MS = 200;
/** Shares of the agents whose return after the restart is timed. */
const LINKED_MARKS_PERCENT = [50, 90, 99, 100];
const PROGRESS_EVERY_MS = 2_000;
const SWARM_STOP_TIMEOUT_MS = 15_000;

export async function runIdleAgents(): Promise<ScenarioResult> {
  const dataDir = tempDir('idle-agents');
  progress(SCENARIO, 'starting the endpoint process');
  let endpoint = await startEndpointProcess(dataDir);
  const logs = [endpoint.logFile];
  const swarm = startSwarm(dataDir);
  try {
    const joinToken = await accountWithToken(endpoint.api, ACCOUNT, AGENT_COUNT);
    progress(SCENARIO, 'endpoint RSS with no agents (settling)');
    const rssFresh = await settledRss(endpoint.pid);

    progress(SCENARIO, `enrolling ${AGENT_COUNT} agents in one helper process`);
    let began = Date.now();
    const command = { type: 'enroll', endpoint: endpoint.url, joinToken, count: AGENT_COUNT };
    swarm.send({ ...command, dir: join(dataDir, 'agents') } as SwarmCommand);
    const enrolled = await swarm.next('enrolled', ENROLL_TIMEOUT_MS);
    const enrollMs = Date.now() - began;
    if (enrolled.type !== 'enrolled') throw new BenchError('unexpected answer from the helper');
    if (enrolled.failures.length > 0) {
      const first = enrolled.failures.slice(0, 3).join('; ');
      throw new BenchError(`${enrolled.failures.length} enrollments failed: ${first}`);
    }
    const retried = enrolled.retried;
    progress(SCENARIO, 'endpoint RSS with agents enrolled, none linked (settling)');
    const rssEnrolled = await settledRss(endpoint.pid);

    progress(SCENARIO, `linking ${AGENT_COUNT} agents`);
    began = Date.now();
    swarm.send({ type: 'connect' });
    const { linked } = await untilLinked(endpoint, LINK_TIMEOUT_MS);
    if (linked < AGENT_COUNT) {
      throw new BenchError(`only ${linked}/${AGENT_COUNT} agents linked in ${LINK_TIMEOUT_MS} ms`);
    }
    const linkMs = Date.now() - began;
    progress(SCENARIO, `all ${AGENT_COUNT} linked; endpoint RSS (settling)`);
    const rssOnline = await settledRss(endpoint.pid);
    const swarmRss = rssKb(swarm.child.pid!);

    progress(SCENARIO, 'restarting the endpoint (SIGTERM, then the same port and data folder)');
    const restartAt = Date.now();
    const stopped = await stopProcess(endpoint.child);
    endpoint.api.close();
    endpoint = await startEndpointProcess(dataDir, endpoint.port);
    logs.push(endpoint.logFile);
    const listeningMs = Date.now() - restartAt;
    const reconnect = await untilLinked(endpoint, RECONNECT_TIMEOUT_MS, restartAt);
    const reconnectMs = Date.now() - restartAt;
    const back = reconnect.linked;
    progress(SCENARIO, `${back}/${AGENT_COUNT} back after ${(reconnectMs / 1000).toFixed(1)} s`);
    let rssRestarted: { minKb: number; maxKb: number } | null = null;
    if (back >= AGENT_COUNT) {
      progress(SCENARIO, `restarted endpoint RSS with ${AGENT_COUNT} links (settling)`);
      rssRestarted = await settledRss(endpoint.pid);
    }

    return summarise({
      rssFresh,
      rssEnrolled,
      rssOnline,
      swarmRss,
      enrollMs,
      linkMs,
      stopped,
      listeningMs,
      reconnectMs,
      back,
      retried,
      rssRestarted,
      reconnectMarksMs: reconnect.marksMs,
      problems: logs.map(logProblems),
    });
  } finally {
    swarm.send({ type: 'stop' });
    await swarm.next('stopped', SWARM_STOP_TIMEOUT_MS).catch(() => undefined);
    await stopProcess(swarm.child, SWARM_STOP_TIMEOUT_MS);
    endpoint.api.close();
    await stopProcess(endpoint.child);
  }
}

/** The smallest of several RSS samples taken after an idle pause, with their spread. */
async function settledRss(pid: number): Promise<{ minKb: number; maxKb: number }> {
  await sleep(SETTLE_MS);
  const samples: number[] = [];
  for (let i = 0; i < RSS_SAMPLES; i += 1) {
    samples.push(rssKb(pid));
    await sleep(RSS_SAMPLE_INTERVAL_MS);
  }
  return { minKb: Math.min(...samples), maxKb: Math.max(...samples) };
}

/**
 * Polls /healthz until every agent is linked or time runs out. Returns the last count and when,
 * in ms after `since`, each share in LINKED_MARKS_PERCENT was first seen.
 */
async function untilLinked(
  endpoint: EndpointProcess,
  timeoutMs: number,
  since = Date.now(),
): Promise<{ linked: number; marksMs: Record<string, number> }> {
  const deadline = Date.now() + timeoutMs;
  const marksMs: Record<string, number> = {};
  let lastReport = Date.now();
  let linked = 0;
  while (Date.now() < deadline) {
    linked = await endpoint.api.agentsLinked().catch(() => linked);
    for (const percent of LINKED_MARKS_PERCENT) {
      const key = `${percent}%`;
      if (marksMs[key] === undefined && linked >= (AGENT_COUNT * percent) / 100) {
        marksMs[key] = Date.now() - since;
      }
    }
    if (linked >= AGENT_COUNT) return { linked, marksMs };
    if (Date.now() - lastReport >= PROGRESS_EVERY_MS) {
      progress(SCENARIO, `linked ${linked}/${AGENT_COUNT}`);
      lastReport = Date.now();
    }
    await sleep(HEALTH_POLL_MS);
  }
  return { linked, marksMs };
}

interface Swarm {
  child: ChildProcess;
  send(command: SwarmCommand): void;
  next(type: SwarmReport['type'], timeoutMs: number): Promise<SwarmReport>;
}

/** Forks the helper that holds every agent, and relays its progress to ours. */
function startSwarm(dataDir: string): Swarm {
  const child = spawnTracked(
    'agent-swarm',
    process.execPath,
    [RUN_TS, join(import.meta.dirname, 'agent-swarm.ts')],
    { logFile: join(dataDir, 'agent-swarm.log'), ipc: true },
  );
  child.on('message', (message: SwarmReport) => {
    if (message.type === 'progress') {
      progress(SCENARIO, `${message.phase} ${message.done}/${message.total}`);
    }
  });
  return {
    child,
    send: (command) => {
      if (child.connected) child.send(command);
    },
    next: (type, timeoutMs) =>
      new Promise((done, fail) => {
        const timer = setTimeout(
          () => finish(new BenchError(`no "${type}" from the helper`)),
          timeoutMs,
        );
        const onMessage = (message: SwarmReport): void => {
          if (message.type === type) finish(null, message);
          else if (message.type === 'error') finish(new BenchError(`helper: ${message.message}`));
        };
        const onExit = (): void => finish(new BenchError('the agent helper process exited'));
        const finish = (error: Error | null, message?: SwarmReport): void => {
          clearTimeout(timer);
          child.off('message', onMessage);
          child.off('exit', onExit);
          if (error) fail(error);
          else done(message!);
        };
        child.on('message', onMessage);
        child.once('exit', onExit);
      }),
  };
}

function summarise(m: {
  rssFresh: { minKb: number; maxKb: number };
  rssEnrolled: { minKb: number; maxKb: number };
  rssOnline: { minKb: number; maxKb: number };
  swarmRss: number;
  enrollMs: number;
  linkMs: number;
  stopped: { ms: number; killed: boolean; code: number | null; signal: string | null };
  listeningMs: number;
  reconnectMs: number;
  back: number;
  retried: string[];
  rssRestarted: { minKb: number; maxKb: number } | null;
  reconnectMarksMs: Record<string, number>;
  problems: Array<ReturnType<typeof logProblems>>;
}): ScenarioResult {
  const perAgentKb = (m.rssOnline.minKb - m.rssEnrolled.minKb) / AGENT_COUNT;
  const perAgentFromFreshKb = (m.rssOnline.minKb - m.rssFresh.minKb) / AGENT_COUNT;
  const allBack = m.back >= AGENT_COUNT;
  const restartedPerAgent = m.rssRestarted
    ? (m.rssRestarted.minKb - m.rssFresh.minKb) / AGENT_COUNT
    : Number.NaN;
  const marks = Object.entries(m.reconnectMarksMs)
    .filter(([share]) => share !== '100%')
    .map(([share, ms]) => `${share} ${seconds(ms)}`)
    .join(', ');
  const notes: string[] = [];
  if (m.stopped.killed) {
    notes.push(`idle-agents: the endpoint ignored SIGTERM for ${m.stopped.ms} ms and was killed`);
  }
  if (m.retried.length > 0) {
    notes.push(
      `idle-agents: ${m.retried.length} enrollments failed and were retried in a fresh ` +
        `state folder; the first: ${m.retried[0]}`,
    );
  }
  m.problems.forEach((p, i) => {
    if (p.error + p.warn === 0) return;
    const which = i === 0 ? 'first endpoint' : 'restarted endpoint';
    notes.push(
      `idle-agents: ${which} log has ${p.error} error and ${p.warn} warn lines: ` +
        p.samples.join('; '),
    );
  });
  return {
    rows: [
      {
        measure: `endpoint RSS per idle agent link (KB, ${AGENT_COUNT} links)`,
        tether: perAgentKb.toFixed(1),
        baseline: `RSS ${mb(m.rssEnrolled.minKb)} → ${mb(m.rssOnline.minKb)} MB`,
        diff: '—',
        target: `≤ ${TARGET_KB_PER_AGENT} KB`,
        met: perAgentKb <= TARGET_KB_PER_AGENT,
      },
      {
        measure: '  same, counting enrollment too (KB per agent)',
        tether: perAgentFromFreshKb.toFixed(1),
        baseline: `RSS ${mb(m.rssFresh.minKb)} MB fresh`,
        diff: '—',
        target: '—',
        met: null,
      },
      {
        measure: '  cross-check: restarted endpoint with the links, vs fresh (KB/agent)',
        tether: m.rssRestarted ? restartedPerAgent.toFixed(1) : 'n/a',
        baseline: m.rssRestarted
          ? `RSS ${mb(m.rssFresh.minKb)} → ${mb(m.rssRestarted.minKb)} MB`
          : '—',
        diff: '—',
        target: `≤ ${TARGET_KB_PER_AGENT} KB`,
        met: m.rssRestarted ? restartedPerAgent <= TARGET_KB_PER_AGENT : null,
      },
      {
        measure: `endpoint restart: SIGTERM → all ${AGENT_COUNT} linked again (s)`,
        tether: allBack
          ? seconds(m.reconnectMs)
          : `${m.back}/${AGENT_COUNT} by ${seconds(m.reconnectMs)}`,
        baseline: `listening at ${seconds(m.listeningMs)}`,
        diff: marks,
        target: `≤ ${TARGET_RECONNECT_MS / 1000} s`,
        met: allBack && m.reconnectMs <= TARGET_RECONNECT_MS,
      },
      {
        measure: `  endpoint shutdown with ${AGENT_COUNT} links (s)`,
        tether: seconds(m.stopped.ms) + (m.stopped.killed ? ' (killed)' : ''),
        baseline: '—',
        diff: '—',
        target: '—',
        met: null,
      },
      {
        measure: `  enroll ${AGENT_COUNT} / link ${AGENT_COUNT} from one process (s)`,
        tether: `${seconds(m.enrollMs)} / ${seconds(m.linkMs)}`,
        baseline: '—',
        diff: '—',
        target: '—',
        met: null,
      },
      {
        measure: `  helper process RSS with ${AGENT_COUNT} in-process agents (KB each)`,
        tether: (m.swarmRss / AGENT_COUNT).toFixed(1),
        baseline: '—',
        diff: '—',
        target: '—',
        met: null,
      },
      {
        measure: 'agent enrollments that failed (retried in a fresh folder)',
        tether: `${m.retried.length} of ${AGENT_COUNT + m.retried.length}`,
        baseline: '—',
        diff: '—',
        target: '0',
        met: m.retried.length === 0,
      },
    ],
    details: {
      agents: AGENT_COUNT,
      rssKb: {
        fresh: m.rssFresh,
        enrolled: m.rssEnrolled,
        online: m.rssOnline,
        restartedOnline: m.rssRestarted,
      },
      helperRssKb: m.swarmRss,
      enrollMs: m.enrollMs,
      linkMs: m.linkMs,
      shutdown: m.stopped,
      restart: {
        listeningMs: m.listeningMs,
        allBackMs: m.reconnectMs,
        back: m.back,
        marksMs: m.reconnectMarksMs,
      },
      enrollRetries: m.retried,
      endpointLogs: m.problems,
    },
    notes,
  };
}

function mb(kb: number): string {
  return (kb / 1024).toFixed(1);
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(1);
}
