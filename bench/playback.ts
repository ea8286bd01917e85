/**
 * Playback rows: an hour-long recording (synthetic, about 100 MB of output, written as the
 * recorder writes one) in the site's player, in Debian's chromium, against an endpoint
 * process. Side by side, the same recording with the endpoint's keyframes and without them
 * (then the player has one segment and replays from the start): time until it is ready, and
 * time from clicking the "minute 55" marker until the player shows minute 55's screen.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import type { Browser, Page } from 'playwright-core';
import { screenAt } from '../packages/endpoint/src/testing/cast-replay.ts';
import { writeSyntheticRecording } from '../packages/endpoint/src/testing/synthetic-recording.ts';
import { launchChromium } from '../packages/web/e2e/browser.ts';
import {
  accountWithToken,
  BenchError,
  median,
  progress,
  REPO_ROOT,
  round,
  spawnAgentProcess,
  startEndpointProcess,
  tempDir,
  waitFor,
  type EndpointProcess,
  type Row,
  type ScenarioResult,
} from './lib.ts';

const SCENARIO = 'playback';
const ACCOUNT = 'bench-playback';
const CHROMIUM = '/usr/bin/chromium';
/** An hour of a busy session; TETHER_BENCH_PLAYBACK_MB shrinks it for a quick look. */
const RECORDING_MB = Number(process.env.TETHER_BENCH_PLAYBACK_MB ?? 100);
const RECORDING_S = 3600;
const SEEK_TO_S = 55 * 60;
const SEEK_LABEL = 'minute 55';
/** Runs with keyframes are quick; one run without shows the order of magnitude. */
const RUNS_WITH_KEYFRAMES = 3;
const RUNS_WITHOUT = 1;
const SCREEN_TIMEOUT_MS = 120_000;
/** What "stays quick" means here: a seek anywhere in an hour shows its screen within a second. */
const TARGET_SEEK_MS = 1000;
const PASSWORD = 'bench customer password';

interface Variant {
  name: 'keyframes' | 'whole';
  session: string;
}

export async function runPlayback(): Promise<ScenarioResult> {
  if (!existsSync(CHROMIUM))
    throw new BenchError(`${CHROMIUM} is missing (apt-get install chromium)`);
  buildSite();
  process.env.SHELL = '/bin/sh';
  const dataDir = tempDir('playback');
  progress(SCENARIO, 'starting the endpoint and one agent');
  const endpoint = await startEndpointProcess(dataDir);
  const agentId = await linkAgent(endpoint, dataDir);
  await endpoint.api.call('POST', '/api/v1/users', {
    username: 'bench-viewer',
    role: 'customer',
    account: ACCOUNT,
    password: PASSWORD,
  });
  const customer = await tokenFor(endpoint, 'bench-viewer');

  // Two real sessions, so the rows and permissions are real; their recordings are then
  // replaced by the synthetic hour, one with its keyframes and one without.
  const withKeyframes = await shortSession(endpoint, agentId, customer);
  const without = await shortSession(endpoint, agentId, customer);
  const recordings = join(dataDir, 'recordings');
  progress(SCENARIO, `writing a ${RECORDING_S / 60}-minute, ${RECORDING_MB} MB recording`);
  const began = Date.now();
  const made = await writeSyntheticRecording({
    castFile: join(recordings, `${withKeyframes}.cast`),
    keyframeFile: join(recordings, `${withKeyframes}.keyframes.jsonl`),
    durationS: RECORDING_S,
    bytes: RECORDING_MB * 1_000_000,
    markers: [[SEEK_TO_S, SEEK_LABEL]],
    seed: 55,
  });
  copyFileSync(join(recordings, `${withKeyframes}.cast`), join(recordings, `${without}.cast`));
  rmSync(join(recordings, `${without}.keyframes.jsonl`), { force: true });
  const castBytes = statSync(join(recordings, `${withKeyframes}.cast`)).size;
  const keyframeBytes = statSync(join(recordings, `${withKeyframes}.keyframes.jsonl`)).size;
  progress(
    SCENARIO,
    `${made.events} events, ${(made.outputBytes / 1e6).toFixed(1)} MB of output, ` +
      `${made.keyframes} keyframes, in ${((Date.now() - began) / 1000).toFixed(1)} s`,
  );

  // What minute 55 looks like, from the segment that holds it (playback.test.ts shows that
  // equals a replay from the start): the lines the player must show.
  let requestedAt = Date.now();
  const index = await fetchJson<{ markers: [number, string][]; segments: unknown[] }>(
    endpoint,
    `/api/v1/terminals/${withKeyframes}/playback`,
    customer,
  );
  const indexMs = Date.now() - requestedAt;
  const seekTo = index.markers.find(([, label]) => label === SEEK_LABEL)?.[0];
  if (seekTo === undefined) throw new BenchError('the recording has no "minute 55" marker');
  requestedAt = Date.now();
  const segment = await fetchJson<{
    snapshot: { cols: number; rows: number; init: string };
    events: [number, string, string][];
  }>(endpoint, `/api/v1/terminals/${withKeyframes}/playback/segment?at=${seekTo}`, customer);
  const segmentMs = Date.now() - requestedAt;
  const expected = await screenAt(segment.snapshot, segment.events, Math.round(seekTo * 1000));
  const mustShow = expected.lines
    .map((l) => l.trim())
    .filter((l) => l.length > 0)
    .slice(-6);

  const browser = await launchChromium();
  const timings: Record<string, { open: number[]; seek: number[] }> = {};
  try {
    const variants: Variant[] = [
      { name: 'keyframes', session: withKeyframes },
      { name: 'whole', session: without },
    ];
    for (const variant of variants) {
      const runs = variant.name === 'keyframes' ? RUNS_WITH_KEYFRAMES : RUNS_WITHOUT;
      timings[variant.name] = { open: [], seek: [] };
      for (let run = 0; run < runs; run++) {
        progress(SCENARIO, `${variant.name}: run ${run + 1}/${runs}`);
        const measured = await openAndSeek(browser, endpoint, variant.session, mustShow);
        timings[variant.name].open.push(measured.open);
        timings[variant.name].seek.push(measured.seek);
      }
    }
  } finally {
    await browser.close();
  }

  const open = (name: string) => median(timings[name].open);
  const seek = (name: string) => median(timings[name].seek);
  const mb = (castBytes / 1e6).toFixed(0);
  const rows: Row[] = [
    {
      measure: `playback: open a 1-hour, ${mb} MB recording until ready to play`,
      tether: `${round(open('keyframes'))} ms (keyframes, median of ${RUNS_WITH_KEYFRAMES})`,
      baseline: `${round(open('whole'))} ms (no keyframes, replay from the start)`,
      diff: `×${round(open('whole') / open('keyframes'), 1)}`,
      target: '—',
      met: null,
    },
    {
      measure: 'playback: seek to minute 55 until its screen shows',
      tether: `${round(seek('keyframes'))} ms (keyframes, median of ${RUNS_WITH_KEYFRAMES})`,
      baseline: `${round(seek('whole'))} ms (no keyframes, replay from the start)`,
      diff: `×${round(seek('whole') / seek('keyframes'), 1)}`,
      target: `≤ ${TARGET_SEEK_MS} ms`,
      met: seek('keyframes') <= TARGET_SEEK_MS,
    },
  ];
  return {
    rows,
    details: {
      recording: { ...made, castBytes, keyframeBytes, segments: index.segments.length, seekTo },
      endpoint: { indexMs, segmentMs, segmentEvents: segment.events.length },
      timings,
    },
    notes: [
      `playback: the player is asciinema-player in chromium; "no keyframes" is the same recording ` +
        'with its keyframes file removed, so the endpoint serves one segment and the player ' +
        'replays from the start, as the site did before.',
      `playback: the endpoint answered the index in ${indexMs} ms (it reads the whole cast for ` +
        `its markers) and the minute-55 segment in ${segmentMs} ms.`,
    ],
  };
}

/** Opens the player (until it is ready), then clicks the "minute 55" marker (until it shows). */
async function openAndSeek(
  browser: Browser,
  endpoint: EndpointProcess,
  session: string,
  mustShow: string[],
): Promise<{ open: number; seek: number }> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  try {
    const page = await context.newPage();
    page.setDefaultTimeout(SCREEN_TIMEOUT_MS);
    await signIn(page, endpoint.url);
    // Ready to play: the player has read the index and the first segment (then it lists the
    // markers), and shows the first screen.
    const openedAt = Date.now();
    await page.goto(`${endpoint.url}/terminals/${session}/playback`);
    const marker = page.getByRole('button', { name: new RegExp(`${SEEK_LABEL}$`) });
    await marker.waitFor();
    const open = Date.now() - openedAt;

    const seekedAt = Date.now();
    await marker.click();
    await shows(page, mustShow);
    return { open, seek: Date.now() - seekedAt };
  } finally {
    await context.close();
  }
}

/**
 * Waits, frame by frame, until every given line is on the player's screen. The player draws
 * each run of colour as its own element, so lines are compared without their whitespace.
 */
async function shows(page: Page, lines: string[]): Promise<void> {
  const wanted = lines.map((l) => l.replace(/\s+/g, ''));
  await page
    .waitForFunction(
      (wanted) => {
        const screen = document.querySelector('[data-testid="playback"] .ap-term');
        if (!screen) return false;
        const text = (screen as HTMLElement).innerText.replace(/\s+/g, '');
        return wanted.every((line) => text.includes(line));
      },
      wanted,
      { polling: 'raf', timeout: SCREEN_TIMEOUT_MS },
    )
    .catch(async (error: unknown) => {
      const screen = await page
        .locator('[data-testid="playback"] .ap-term')
        .innerText()
        .catch(() => '');
      throw new BenchError(
        `the player did not show ${JSON.stringify(lines)}; it shows:\n${screen}\n(${String(error)})`,
      );
    });
}

async function signIn(page: Page, url: string): Promise<void> {
  await page.goto(`${url}/`);
  await page.getByLabel('Username').fill('bench-viewer');
  await page.getByLabel(/^Password/).fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Servers' }).waitFor();
}

async function linkAgent(endpoint: EndpointProcess, dataDir: string): Promise<string> {
  const joinToken = await accountWithToken(endpoint.api, ACCOUNT, 1);
  spawnAgentProcess('playback-agent', {
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
  return agentId;
}

/** A session asked for by the admin, approved by the customer, that exits at once. */
async function shortSession(
  endpoint: EndpointProcess,
  agentId: string,
  customer: string,
): Promise<string> {
  const { approval } = await endpoint.api.call<{ approval: { id: string } }>(
    'POST',
    `/api/v1/agents/${agentId}/terminal-requests`,
    { cols: 120, rows: 36 },
  );
  await fetch(`${endpoint.url}/api/v1/approvals/${approval.id}/approve`, {
    method: 'POST',
    headers: { authorization: `Bearer ${customer}` },
  });
  const admin = (endpoint.api as unknown as { token: string }).token;
  const url = `${endpoint.url.replace(/^http/, 'ws')}/api/v1/terminals/socket?approval=${approval.id}&agent=${agentId}&cols=120&rows=36`;
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${admin}` } });
  const session = await new Promise<string>((resolve, reject) => {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) return;
      const message = JSON.parse(data.toString()) as { type: string; session?: string };
      if (message.type === 'hello') {
        ws.send(Buffer.from('exit\r'), { binary: true });
        resolve(message.session!);
      }
      if (message.type === 'error') reject(new BenchError(data.toString()));
    });
    ws.on('error', reject);
  });
  await waitFor(
    'the short session to end',
    async () =>
      (
        await endpoint.api.call<{ session: { status: string } }>(
          'GET',
          `/api/v1/terminals/${session}`,
        )
      ).session.status === 'ended',
    30_000,
  );
  ws.close();
  return session;
}

async function tokenFor(endpoint: EndpointProcess, username: string): Promise<string> {
  const login = await fetch(`${endpoint.url}/api/v1/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password: PASSWORD }),
  });
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0];
  const created = await fetch(`${endpoint.url}/api/v1/api-tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie },
    body: JSON.stringify({ name: 'bench' }),
  });
  return ((await created.json()) as { token: string }).token;
}

async function fetchJson<T>(endpoint: EndpointProcess, path: string, token: string): Promise<T> {
  const response = await fetch(`${endpoint.url}${path}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  if (!response.ok) throw new BenchError(`GET ${path}: HTTP ${response.status}`);
  return (await response.json()) as T;
}

/** The site the endpoint serves must be the one the sources say. */
function buildSite(): void {
  const build = spawnSync(process.execPath, [join(REPO_ROOT, 'scripts/build-web.mjs')], {
    encoding: 'utf8',
  });
  if (build.status !== 0) throw new BenchError(`web build failed:\n${build.stdout}${build.stderr}`);
}
