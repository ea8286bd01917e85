/**
 * Files rows: a 1 GB file downloaded and uploaded through agent → endpoint → HTTP client
 * (agent and endpoint as their own processes), MB/s and the endpoint's peak RSS, beside a
 * local `cp` of the same file in the same run. OpenSSH's sftp is the other peer when a
 * private sshd can be started here; without sshd that column is skipped, with a note.
 */
import { spawn } from 'node:child_process';
import {
  closeSync,
  createReadStream,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import {
  accountWithToken,
  progress,
  round,
  rssKb,
  spawnAgentProcess,
  startEndpointProcess,
  tempDir,
  waitFor,
  type EndpointProcess,
  type Row,
  type ScenarioResult,
} from './lib.ts';

const SCENARIO = 'files';
const ACCOUNT = 'bench-files';
/** The size; TETHER_BENCH_FILES_MB shrinks it for a quick look. */
const FILE_MB = Number(process.env.TETHER_BENCH_FILES_MB ?? 1024);
const RSS_SAMPLE_MS = 100;
/** Node's own footprint is 60–120 MB; a whole-file buffer of 1 GB would be far past this. */
const TARGET_RSS_MB = 300;
const SSHD = '/usr/sbin/sshd';

export async function runFiles(): Promise<ScenarioResult> {
  const dataDir = tempDir('files');
  const root = join(dataDir, 'srv');
  progress(SCENARIO, `writing a ${FILE_MB} MB file of random bytes`);
  const source = join(dataDir, 'source.bin');
  writeRandom(source, FILE_MB);
  mkdirSync(root);
  mkdirSync(join(dataDir, 'endpoint'));

  progress(SCENARIO, 'starting the endpoint and one agent');
  const endpoint = await startEndpointProcess(join(dataDir, 'endpoint'));
  token = readFileSync(join(dataDir, 'endpoint', 'admin.token'), 'utf8').trim();
  const joinToken = await accountWithToken(endpoint.api, ACCOUNT, 1);
  spawnAgentProcess('files-agent', {
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
    fileReadMode: 'allow',
    fileWriteMode: 'allow',
    pathAllow: [dataDir],
  });
  const { session } = await endpoint.api.call<{ session: { id: string } }>(
    'POST',
    `/api/v1/agents/${agentId}/file-sessions`,
    {},
  );

  const rows: Row[] = [];
  const details: Record<string, unknown> = { fileMb: FILE_MB };
  const notes: string[] = [];
  const bytes = FILE_MB * 1024 * 1024;

  const idleMb = rssKb(endpoint.pid) / 1024;
  progress(SCENARIO, 'local cp of the same file (baseline)');
  const copied = join(dataDir, 'copied.bin');
  const cpSeconds = await timed(() => runCommand('cp', [source, copied]));
  rmSync(copied);
  const cpMbps = bytes / 1e6 / cpSeconds;

  progress(SCENARIO, `download through the endpoint`);
  const download = await sampled(endpoint, () => httpDownload(endpoint, session.id, source));
  if (download.value !== bytes) throw new Error(`downloaded ${download.value} of ${bytes} bytes`);
  const downMbps = bytes / 1e6 / download.seconds;

  progress(SCENARIO, `upload through the endpoint (temporary file, fsync, rename)`);
  const uploaded = join(root, 'uploaded.bin');
  const upload = await sampled(endpoint, () => httpUpload(endpoint, session.id, source, uploaded));
  if (statSync(uploaded).size !== bytes) throw new Error('the uploaded file has the wrong size');
  const upMbps = bytes / 1e6 / upload.seconds;

  const sftp = existsSync(SSHD)
    ? null
    : 'no sshd on this machine (openssh-server is not installed)';
  if (sftp) notes.push(`OpenSSH sftp column skipped: ${sftp}; the baseline is a local cp.`);
  notes.push('the upload fsyncs the file before renaming it into place; cp does not fsync.');
  details.download = { seconds: download.seconds, peakRssMb: download.peakMb };
  details.upload = { seconds: upload.seconds, peakRssMb: upload.peakMb };
  details.cp = { seconds: cpSeconds };
  details.idleRssMb = idleMb;

  for (const [what, mbps, peak] of [
    ['download', downMbps, download.peakMb],
    ['upload', upMbps, upload.peakMb],
  ] as const) {
    rows.push(
      {
        measure: `file ${what} ${FILE_MB} MB, MB/s (agent → endpoint → HTTP)`,
        tether: String(round(mbps, 1)),
        baseline: `${round(cpMbps, 1)} local cp`,
        diff: `${round(mbps / cpMbps, 2)}x`,
        target: '—',
        met: null,
      },
      {
        measure: `endpoint peak RSS MB during the ${what}`,
        tether: String(round(peak, 0)),
        baseline: `${round(idleMb, 0)} idle`,
        diff: `+${round(peak - idleMb, 0)}`,
        target: `< ${TARGET_RSS_MB} (no whole-file buffer)`,
        met: peak < TARGET_RSS_MB,
      },
    );
  }
  return { rows, details, notes };
}

function writeRandom(file: string, megabytes: number): void {
  const fd = openSync(file, 'w');
  const chunk = randomBytes(1024 * 1024);
  for (let i = 0; i < megabytes; i++) {
    // A fresh first byte per MiB keeps any layer from deduplicating the chunks.
    chunk[0] = i & 0xff;
    writeSync(fd, chunk);
  }
  closeSync(fd);
}

async function sampled(endpoint: EndpointProcess, work: () => Promise<number>) {
  let peakKb = rssKb(endpoint.pid);
  const timer = setInterval(() => (peakKb = Math.max(peakKb, rssKb(endpoint.pid))), RSS_SAMPLE_MS);
  const started = process.hrtime.bigint();
  try {
    const value = await work();
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return { value, seconds, peakMb: peakKb / 1024 };
  } finally {
    clearInterval(timer);
  }
}

function httpDownload(endpoint: EndpointProcess, sessionId: string, path: string): Promise<number> {
  const url = new URL(
    `/api/v1/file-sessions/${sessionId}/download?path=${encodeURIComponent(path)}`,
    endpoint.url,
  );
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers: authorization(endpoint) }, (response) => {
        if (response.statusCode !== 200)
          return reject(new Error(`download: HTTP ${response.statusCode}`));
        let received = 0;
        response.on('data', (chunk: Buffer) => (received += chunk.length));
        response.on('end', () => resolve(received));
        response.on('error', reject);
      })
      .on('error', reject);
  });
}

function httpUpload(
  endpoint: EndpointProcess,
  sessionId: string,
  from: string,
  to: string,
): Promise<number> {
  const url = new URL(
    `/api/v1/file-sessions/${sessionId}/upload?path=${encodeURIComponent(to)}&overwrite=1`,
    endpoint.url,
  );
  const size = statSync(from).size;
  return new Promise((resolve, reject) => {
    const request = http.request(
      url,
      {
        method: 'PUT',
        headers: {
          ...authorization(endpoint),
          'content-type': 'application/octet-stream',
          'content-length': size,
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          response.statusCode === 200
            ? resolve(size)
            : reject(
                new Error(
                  `upload: HTTP ${response.statusCode} ${Buffer.concat(chunks).toString()}`,
                ),
              ),
        );
      },
    );
    request.on('error', reject);
    createReadStream(from).pipe(request);
  });
}

let token = '';

function authorization(_endpoint: EndpointProcess): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - started) / 1e9;
}

function runCommand(file: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${file} exited ${code}`)),
    );
  });
}
