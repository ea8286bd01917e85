/**
 * The script repository: a 1,000-file package fetched through the sync protocol beside
 * `git clone --bare` of the same tree from a `git daemon` on 127.0.0.1, cold and with half the
 * objects already present; publishing it beside `git push`; resolving 100 packages.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import {
  generatePublisherKey,
  loadPrivateKey,
  ObjectStore,
  PackSink,
  packFolder,
  signPack,
  SyncClient,
  type ObjectSink,
} from '@tether/repository';
import {
  LOOPBACK,
  median,
  progress,
  round,
  spawnTracked,
  startEndpointProcess,
  stopProcess,
  tempDir,
  waitFor,
  type ScenarioResult,
} from './lib.ts';

const SCENARIO = 'repository';
const FILES = 1_000;
const FOLDERS = 20;
/** Script-sized files: 0.5–4.5 KiB of text each. */
const MIN_FILE_BYTES = 512;
const FILE_BYTES_SPREAD = 4096;
/** Runs per measure, interleaved with git's so that other load falls on both alike. */
const RUNS = 5;
const PACKAGES_TO_RESOLVE = 100;
const PUBLISH_RUNS = 3;

export async function runRepository(): Promise<ScenarioResult> {
  const dir = tempDir(SCENARIO);
  const source = join(dir, 'package');
  writePackage(source);
  progress(SCENARIO, `wrote a package of ${FILES} files`);

  const git = await startGitDaemon(dir, source);
  const endpointDir = tempDir('repository-endpoint');
  const endpoint = await startEndpointProcess(endpointDir);
  try {
    const { privatePem, publicKey } = generatePublisherKey();
    await endpoint.api.call('POST', '/api/v1/repository/keys', { publicKey: publicKey.openssh });
    const signer = {
      username: 'admin',
      key: loadPrivateKey(privatePem).key,
      keyId: publicKey.fingerprint,
    };
    const auth = { authorization: `Bearer ${readToken(endpointDir)}` };

    // Publishing: each run a new version of the same content, so every run uploads the tree
    // the first time only; the first run is the one a person waits for.
    const publishMs: number[] = [];
    const pushMs: number[] = [];
    let tag = '';
    let objects = 0;
    for (let run = 0; run < PUBLISH_RUNS; run++) {
      const folder = join(dir, `publish-${run}`);
      writePackage(folder, `bench/pkg${run}`);
      const began = performance.now();
      const pack = signPack(await packFolder(folder), signer);
      const client = await SyncClient.connect(endpoint.url, auth);
      const published = await client.publish(pack);
      await client.close();
      publishMs.push(performance.now() - began);
      if (run === 0) {
        tag = published.tag;
        objects = pack.objects.size;
      }
      pushMs.push(gitPush(git, folder, run));
    }
    progress(SCENARIO, `published ${PUBLISH_RUNS} times (${objects} objects each)`);

    const cold: number[] = [];
    const coldLoose: number[] = [];
    const coldGit: number[] = [];
    const half: number[] = [];
    const halfGit: number[] = [];
    const fetchOnce = async (into: ObjectSink, have?: string[]) => {
      const began = performance.now();
      const client = await SyncClient.connect(endpoint.url, auth);
      const got = await client.fetch([tag], { into, have });
      await client.close();
      return { ms: performance.now() - began, objects: got.objects };
    };
    for (let run = 0; run < RUNS; run++) {
      // Cold, as the CLI and mirrors take a release: one pack, as git clone writes one.
      const packed = new ObjectStore(join(dir, `pack-${run}`));
      await packed.init();
      const intoPack = await fetchOnce(new PackSink(packed));
      if (intoPack.objects !== objects)
        throw new Error(`fetched ${intoPack.objects} of ${objects}`);
      cold.push(intoPack.ms);
      coldGit.push(gitClone(git, join(dir, `clone-${run}`)));

      // Cold as loose objects (the agent proxy's cache), then with half of them deleted.
      const store = new ObjectStore(join(dir, `fetch-${run}`));
      await store.init();
      coldLoose.push((await fetchOnce(store.objects)).ms);
      const kept: string[] = [];
      let i = 0;
      for await (const hash of store.objects.hashes()) {
        if (i++ % 2 === 0) kept.push(hash);
        else await store.forget(hash);
      }
      const rest = await fetchOnce(store.objects, kept);
      if (rest.objects !== objects - kept.length) throw new Error('half fetch sent the wrong set');
      half.push(rest.ms);
      halfGit.push(gitFetchHalf(git, join(dir, `half-${run}`)));
      rmSync(store.root, { recursive: true, force: true });
      rmSync(packed.root, { recursive: true, force: true });
    }
    progress(SCENARIO, `fetched ${RUNS} times each way`);

    const { resolveMs, floorMs } = await resolveMany(endpoint, signer, auth, dir);
    progress(SCENARIO, `resolved ${PACKAGES_TO_RESOLVE} packages`);

    const row = (
      measure: string,
      ours: number[],
      theirs: number[],
      baseline: string,
      target: string,
      met: boolean | null,
    ) => ({
      measure,
      tether: `${round(median(ours), 0)} ms`,
      baseline: `${round(median(theirs), 0)} ms ${baseline}`,
      diff: `×${round(median(ours) / median(theirs), 2)}`,
      target,
      met,
    });
    return {
      rows: [
        row(
          `fetch ${FILES}-file package, cold, into a pack (median of ${RUNS})`,
          cold,
          coldGit,
          'git clone --bare (git daemon)',
          '≤ git clone',
          median(cold) <= median(coldGit),
        ),
        row(
          `fetch ${FILES}-file package, cold, as loose objects`,
          coldLoose,
          coldGit,
          'git clone --bare (git daemon)',
          '—',
          null,
        ),
        row(
          `fetch with half the objects present`,
          half,
          halfGit,
          'git fetch of the other half',
          '—',
          null,
        ),
        row(
          `publish ${FILES}-file package, new (median of ${PUBLISH_RUNS})`,
          publishMs,
          pushMs,
          'git push (git daemon)',
          '—',
          null,
        ),
        row(
          `resolve ${PACKAGES_TO_RESOLVE} packages with dependencies (total)`,
          [resolveMs],
          [floorMs],
          `${PACKAGES_TO_RESOLVE} × GET /healthz`,
          '—',
          null,
        ),
      ],
      details: {
        cold,
        coldLoose,
        coldGit,
        half,
        halfGit,
        publishMs,
        pushMs,
        resolveMs,
        floorMs,
        objects,
      },
      notes: [
        'repository: both sides check every object; git clone --bare and the pack fetch each write one pack and index, the loose fetch a file per object',
      ],
    };
  } finally {
    endpoint.api.close();
    await stopProcess(endpoint.child);
    await stopProcess(git.child);
  }
}

function writePackage(folder: string, name = 'bench/pkg'): void {
  mkdirSync(folder, { recursive: true });
  writeFileSync(
    join(folder, 'script.json'),
    JSON.stringify({ name, version: '1.0.0', owners: ['admin'], visibility: 'customers' }),
  );
  for (let i = 0; i < FILES; i++) {
    const sub = join(folder, `part${i % FOLDERS}`);
    mkdirSync(sub, { recursive: true });
    const bytes = MIN_FILE_BYTES + ((i * 7919) % FILE_BYTES_SPREAD);
    // Text-like and distinct per file, so neither side gets deduplication for free.
    writeFileSync(join(sub, `file${i}.js`), `// ${i}\n${randomBytes(bytes / 2).toString('hex')}\n`);
  }
}

interface GitDaemon {
  child: ReturnType<typeof spawnTracked>;
  port: number;
  base: string;
}

/** A bare repo holding commit "half" (every other file) and "full" on top, served on loopback. */
async function startGitDaemon(dir: string, source: string): Promise<GitDaemon> {
  const base = join(dir, 'git');
  const work = join(dir, 'git-work');
  mkdirSync(base, { recursive: true });
  const env = {
    ...process.env,
    GIT_AUTHOR_NAME: 'b',
    GIT_AUTHOR_EMAIL: 'b@b',
    GIT_COMMITTER_NAME: 'b',
    GIT_COMMITTER_EMAIL: 'b@b',
  };
  const run = (cwd: string, ...args: string[]) =>
    execFileSync('git', args, { cwd, env, stdio: 'pipe' });
  run(dir, 'init', '--quiet', '--bare', join(base, 'pkg.git'));
  run(dir, 'init', '--quiet', work);
  execFileSync('cp', ['-r', `${source}/.`, work]);
  const files = execFileSync('find', ['.', '-name', '*.js'], { cwd: work })
    .toString()
    .trim()
    .split('\n');
  run(work, 'add', 'script.json', ...files.filter((_, i) => i % 2 === 0));
  run(work, 'commit', '--quiet', '-m', 'half');
  run(work, 'branch', 'half');
  run(work, 'add', '-A');
  run(work, 'commit', '--quiet', '-m', 'full');
  run(
    work,
    'push',
    '--quiet',
    join(base, 'pkg.git'),
    'HEAD:refs/heads/full',
    'half:refs/heads/half',
  );
  // Bare repos served loose would make git slower than it is: pack as a real server would.
  run(join(base, 'pkg.git'), 'gc', '--quiet');

  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const child = spawnTracked(
    'git-daemon',
    'git',
    [
      'daemon',
      '--reuseaddr',
      `--base-path=${base}`,
      '--export-all',
      '--enable=receive-pack',
      `--listen=${LOOPBACK}`,
      `--port=${port}`,
      base,
    ],
    { logFile: join(dir, 'git-daemon.log') },
  );
  await waitFor('git daemon', () => canConnect(port), 10_000);
  return { child, port, base };
}

function gitClone(git: GitDaemon, into: string): number {
  const began = performance.now();
  execFileSync('git', [
    'clone',
    '--quiet',
    '--bare',
    '--branch',
    'full',
    `git://${LOOPBACK}:${git.port}/pkg.git`,
    into,
  ]);
  return performance.now() - began;
}

function gitFetchHalf(git: GitDaemon, into: string): number {
  const url = `git://${LOOPBACK}:${git.port}/pkg.git`;
  execFileSync('git', [
    'clone',
    '--quiet',
    '--bare',
    '--single-branch',
    '--branch',
    'half',
    url,
    into,
  ]);
  const began = performance.now();
  execFileSync('git', ['fetch', '--quiet', url, 'full:full'], { cwd: into });
  return performance.now() - began;
}

function gitPush(git: GitDaemon, folder: string, run: number): number {
  const env = {
    ...process.env,
    GIT_AUTHOR_NAME: 'b',
    GIT_AUTHOR_EMAIL: 'b@b',
    GIT_COMMITTER_NAME: 'b',
    GIT_COMMITTER_EMAIL: 'b@b',
  };
  const bare = join(git.base, `push-${run}.git`);
  execFileSync('git', ['init', '--quiet', '--bare', bare]);
  execFileSync('git', ['init', '--quiet'], { cwd: folder });
  execFileSync('git', ['add', '-A'], { cwd: folder, env });
  execFileSync('git', ['commit', '--quiet', '-m', 'p'], { cwd: folder, env });
  const began = performance.now();
  execFileSync(
    'git',
    ['push', '--quiet', `git://${LOOPBACK}:${git.port}/push-${run}.git`, 'HEAD:refs/heads/main'],
    { cwd: folder, env },
  );
  const ms = performance.now() - began;
  rmSync(join(folder, '.git'), { recursive: true, force: true });
  return ms;
}

/** 100 packages, each needing the two before it; then each resolved once over one socket. */
async function resolveMany(
  endpoint: Awaited<ReturnType<typeof startEndpointProcess>>,
  signer: Parameters<typeof signPack>[1],
  auth: Record<string, string>,
  dir: string,
) {
  const client = await SyncClient.connect(endpoint.url, auth);
  for (let i = 0; i < PACKAGES_TO_RESOLVE; i++) {
    const folder = join(dir, 'deps', `d${i}`);
    mkdirSync(folder, { recursive: true });
    const dependencies: Record<string, string> = {};
    if (i > 0) dependencies[`dep/p${i - 1}`] = '^1';
    if (i > 1) dependencies[`dep/p${i - 2}`] = '^1.0.0';
    writeFileSync(
      join(folder, 'script.json'),
      JSON.stringify({
        name: `dep/p${i}`,
        version: '1.0.0',
        owners: ['admin'],
        visibility: 'customers',
        dependencies,
      }),
    );
    writeFileSync(join(folder, 'main.js'), `// ${i}\n`);
    await client.publish(signPack(await packFolder(folder), signer));
  }
  let began = performance.now();
  for (let i = 0; i < PACKAGES_TO_RESOLVE; i++) {
    const resolved = await client.resolve(`dep/p${i}`, '^1');
    if (resolved.lock.length !== i) throw new Error(`dep/p${i} locked ${resolved.lock.length}`);
  }
  const resolveMs = performance.now() - began;
  await client.close();
  began = performance.now();
  for (let i = 0; i < PACKAGES_TO_RESOLVE; i++) await endpoint.api.call('GET', '/healthz');
  return { resolveMs, floorMs: performance.now() - began };
}

function readToken(dataDir: string): string {
  return execFileSync('cat', [join(dataDir, 'admin.token')])
    .toString()
    .trim();
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: LOOPBACK, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
