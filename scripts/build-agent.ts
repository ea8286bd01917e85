/** `npm run build:agent`: the agent as Node 24 single executables for linux x64 and arm64. */
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build, formatMessagesSync, type Plugin } from 'esbuild';
import { AGENT_DOWNLOADS, AGENT_VERSION, type AgentArch } from '@tether/protocol';

/**
 * The base the executables run on. The SEA blob must come from this same version (the format
 * and code cache are version-bound), so it is one exact pin: the newest 24.x when pinned.
 */
const NODE_VERSION = '24.22.3';
/** The sentinel Node's SEA loader looks for; postject flips it to mark a blob as present. */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
const SEA_RESOURCE = 'NODE_SEA_BLOB';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CACHE = join(ROOT, '.cache', 'agent-build');
const DIST = join(ROOT, 'dist', 'agent');
const AGENT_SRC = join(ROOT, 'packages', 'agent', 'src');
const ENTRY = join(AGENT_SRC, 'sea-entry.ts');
const NATIVE_ADDONS = join(AGENT_SRC, 'native-addons.ts');
const BUNDLE = join(CACHE, 'bundle', 'tether-agent.cjs');

/** GNU triplets: Debian names its binutils and gcc for each target this way. */
const TRIPLET: Record<AgentArch, string> = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' };
/** ELF e_machine: EM_X86_64 and EM_AARCH64 (System V ABI). */
const ELF_MACHINE: Record<AgentArch, number> = { x64: 62, arm64: 183 };
const ELF_MACHINE_OFFSET = 18;
const ELF_HEADER_BYTES = 20;
const APT_BINUTILS: Record<AgentArch, string> = {
  x64: 'binutils-x86-64-linux-gnu',
  arm64: 'binutils-aarch64-linux-gnu',
};
const APT_GCC: Record<AgentArch, string> = { x64: 'gcc', arm64: 'gcc-aarch64-linux-gnu' };
/** Ample for a 100 MB binary through npm, tar, strip or postject on a 2-core machine. */
const TOOL_TIMEOUT_MS = 10 * 60_000;
const EXECUTABLE_MODE = 0o755;
const MB = 1024 * 1024;

class BuildError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BuildError';
  }
}

interface Addons {
  pty: string;
  bufferutil: string;
}

const requireFromAgent = createRequire(join(AGENT_SRC, 'index.ts'));
const startedAt = performance.now();

async function main(): Promise<void> {
  const arches = parseArches(process.argv.slice(2));
  const host = hostArch();
  for (const arch of arches) requireTool(`${TRIPLET[arch]}-strip`, APT_BINUTILS[arch]);
  mkdirSync(CACHE, { recursive: true });
  mkdirSync(DIST, { recursive: true });

  const left = await step('bundle sea-entry.ts (esbuild, cjs, node24)', bundle);
  const generator = await step(`node ${NODE_VERSION} for ${host} (blob generator)`, () =>
    join(nodeDir(host), 'bin', 'node'),
  );

  for (const arch of arches) {
    const base = await step(`node ${NODE_VERSION} linux-${arch}, stripped`, () =>
      strippedBase(arch),
    );
    const addons = await step(`native addons for linux-${arch}`, () => nativeAddons(arch));
    const blob = await step(`SEA blob for linux-${arch}`, () =>
      seaBlob(arch, generator, arch === host, addons),
    );
    const file = await step('inject the blob (postject)', () => inject(arch, base, blob));
    await step(`check ${AGENT_DOWNLOADS[arch]} --version`, () => smokeTest(arch, host, file));
  }

  if (left.length) say(`left out of the bundle (optional, with fallbacks): ${left.join(', ')}`);
  for (const arch of arches) {
    const size = statSync(join(DIST, AGENT_DOWNLOADS[arch])).size;
    say(`dist/agent/${AGENT_DOWNLOADS[arch]}  ${(size / MB).toFixed(1)} MB`);
  }
  say(`done in ${seconds(performance.now() - startedAt)}`);
}

function parseArches(argv: string[]): AgentArch[] {
  const options = { arch: { type: 'string', multiple: true } } as const;
  const { values } = parseArgs({ args: argv, options });
  const arches = values.arch ?? (Object.keys(AGENT_DOWNLOADS) as AgentArch[]);
  for (const arch of arches) {
    if (!(arch in AGENT_DOWNLOADS)) throw new BuildError(`unknown --arch ${arch} (x64, arm64)`);
  }
  return arches as AgentArch[];
}

function hostArch(): AgentArch {
  if (process.platform === 'linux' && (process.arch === 'x64' || process.arch === 'arm64')) {
    return process.arch;
  }
  const here = `${process.platform}-${process.arch}`;
  throw new BuildError(`build the agent on linux x64 or arm64, not ${here}`);
}

/** One bundle for both architectures: only the SEA assets differ between them. */
async function bundle(): Promise<string[]> {
  const left = new Set<string>();
  const result = await build({
    entryPoints: [ENTRY],
    outfile: BUNDLE,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node24',
    plugins: [nativeAddonsPlugin(left)],
    // ESM sources ask for import.meta.url; in the CommonJS bundle it is the file's own URL.
    define: { 'import.meta.url': 'import_meta_url' },
    banner: { js: "const import_meta_url = require('node:url').pathToFileURL(__filename).href;" },
    logLevel: 'silent',
  });
  if (result.warnings.length) {
    const text = formatMessagesSync(result.warnings, { kind: 'warning', color: false });
    process.stdout.write(text.join(''));
  }
  return [...left].sort();
}

/**
 * Points the bundle's native code at the SEA assets: `bufferutil` (which ws requires) and
 * node-pty's binary loader become shims over loadAddon. Other native or optional modules are
 * left out as "not found", which is what their requirers' try/catch fallbacks expect.
 */
function nativeAddonsPlugin(left: Set<string>): Plugin {
  const shim = 'tether-addon-shim';
  const absent = 'tether-absent';
  const loadAddon = `require(${JSON.stringify(NATIVE_ADDONS)}).loadAddon`;
  return {
    name: 'tether-native-addons',
    setup(on) {
      on.onResolve({ filter: /^bufferutil$/ }, () => ({ path: 'bufferutil', namespace: shim }));
      on.onResolve({ filter: /^(utf-8-validate|cpu-features)$|\.node$/ }, (args) => {
        const from = relative(join(ROOT, 'node_modules'), args.importer).split('/')[0];
        left.add(`${args.path.replace(/^.*\//, '')} (from ${from})`);
        return { path: args.path, namespace: absent };
      });
      on.onLoad({ filter: /.*/, namespace: shim }, () => ({
        contents: `module.exports = ${loadAddon}('bufferutil');`,
        loader: 'js',
        resolveDir: AGENT_SRC,
      }));
      on.onLoad({ filter: /[\\/]@lydell[\\/]node-pty[\\/]requireBinary\.js$/ }, () => ({
        contents: [
          `exports.requireBinary = function requireBinary(file) {`,
          `  if (file === 'pty.node') return ${loadAddon}('pty');`,
          `  throw new Error('node-pty binary ' + file + ' is not in the agent executable');`,
          `};`,
        ].join('\n'),
        loader: 'js',
      }));
      on.onLoad({ filter: /.*/, namespace: absent }, (args) => ({
        contents: [
          `const error = new Error(${JSON.stringify(`Cannot find module '${args.path}'`)}`,
          `  + ' (not carried in the agent executable)');`,
          `error.code = 'MODULE_NOT_FOUND';`,
          `throw error;`,
        ].join('\n'),
        loader: 'js',
      }));
    },
  };
}

/** The official Node build from the registry, packed once and kept in the cache. */
function nodeDir(arch: AgentArch): string {
  const dir = join(CACHE, `node-${NODE_VERSION}-linux-${arch}`);
  if (existsSync(join(dir, 'bin', 'node'))) return dir;

  const tarball = npmPack(`node-linux-${arch}@${NODE_VERSION}`);
  extract(tarball, dir, ['package/bin/node', 'package/include/node']);
  checkElf(join(dir, 'bin', 'node'), arch);
  return dir;
}

/** Stripped before injection: stripping after it drops the blob's note and breaks the SEA. */
function strippedBase(arch: AgentArch): string {
  const stripped = join(nodeDir(arch), 'node-stripped');
  if (existsSync(stripped)) return stripped;

  const temp = `${stripped}.${process.pid}.tmp`;
  run(`${TRIPLET[arch]}-strip`, ['-o', temp, join(nodeDir(arch), 'bin', 'node')]);
  renameSync(temp, stripped);
  return stripped;
}

function nativeAddons(arch: AgentArch): Addons {
  const addons = { pty: ptyAddon(arch), bufferutil: bufferutilAddon(arch) };
  checkElf(addons.pty, arch);
  checkElf(addons.bufferutil, arch);
  return addons;
}

/** node-pty's platform package: from node_modules when installed, else packed. */
function ptyAddon(arch: AgentArch): string {
  const version = packageVersion('@lydell/node-pty');
  const name = `@lydell/node-pty-linux-${arch}`;
  try {
    const ptyRequire = createRequire(requireFromAgent.resolve('@lydell/node-pty'));
    const dir = dirname(ptyRequire.resolve(`${name}/package.json`));
    if (readJson(join(dir, 'package.json')).version === version) return join(dir, 'pty.node');
  } catch {
    // Not installed here (npm installs only this cpu's package): pack it below.
  }

  const dir = join(CACHE, `node-pty-${version}-linux-${arch}`);
  if (!existsSync(join(dir, 'pty.node'))) extract(npmPack(`${name}@${version}`), dir, ['package']);
  return join(dir, 'pty.node');
}

/**
 * bufferutil's prebuild for the arch. bufferutil 4.1 ships none for linux-arm64, so that one is
 * compiled here from its one C file against the Node 24 headers (N-API, no node-gyp needed).
 */
function bufferutilAddon(arch: AgentArch): string {
  const dir = dirname(requireFromAgent.resolve('bufferutil/package.json'));
  const prebuilt = join(dir, 'prebuilds', `linux-${arch}`, 'bufferutil.node');
  if (existsSync(prebuilt)) return prebuilt;

  const version = packageVersion('bufferutil');
  const out = join(CACHE, `bufferutil-${version}-node-${NODE_VERSION}-linux-${arch}.node`);
  if (existsSync(out)) return out;
  const gcc = `${TRIPLET[arch]}-gcc`;
  requireTool(gcc, APT_GCC[arch]);
  const include = join(nodeDir(arch), 'include', 'node');
  const source = join(dir, 'src', 'bufferutil.c');
  const flags = ['-std=c99', '-O3', '-fPIC', '-shared', '-s', '-Wl,-soname=bufferutil.node'];
  const temp = `${out}.${process.pid}.tmp`;
  run(gcc, [...flags, '-I', include, '-o', temp, source]);
  renameSync(temp, out);
  return out;
}

/** The blob from the same Node version as the base; code cache only where it will run as is. */
function seaBlob(arch: AgentArch, generator: string, codeCache: boolean, addons: Addons): string {
  const dir = join(CACHE, `sea-${arch}`);
  mkdirSync(dir, { recursive: true });
  const blob = join(dir, 'sea-prep.blob');
  const config = {
    main: BUNDLE,
    output: blob,
    disableExperimentalSEAWarning: true,
    useSnapshot: false,
    useCodeCache: codeCache,
    assets: { 'pty.node': addons.pty, 'bufferutil.node': addons.bufferutil },
  };
  writeFileSync(join(dir, 'sea-config.json'), `${JSON.stringify(config, null, 2)}\n`);
  run(generator, ['--experimental-sea-config', join(dir, 'sea-config.json')], { cwd: dir });
  return blob;
}

function inject(arch: AgentArch, base: string, blob: string): string {
  const file = join(DIST, AGENT_DOWNLOADS[arch]);
  const temp = join(DIST, `.${AGENT_DOWNLOADS[arch]}.${process.pid}.tmp`);
  copyFileSync(base, temp);
  const postject = join(dirname(requireFromAgent.resolve('postject')), 'cli.js');
  run(process.execPath, [postject, temp, SEA_RESOURCE, blob, '--sentinel-fuse', SEA_FUSE]);
  chmodSync(temp, EXECUTABLE_MODE);
  renameSync(temp, file);
  return file;
}

/** Runs `--version` with an empty environment: natively, or under qemu-user when there. */
function smokeTest(arch: AgentArch, host: AgentArch, file: string): string {
  const qemu = `qemu-${arch === 'arm64' ? 'aarch64' : 'x86_64'}-static`;
  if (arch !== host && !hasTool(qemu)) return `skipped: no ${qemu} to run it`;
  const command = arch === host ? [file] : [qemu, file];
  const output = run('env', ['-i', ...command, '--version']).trim();
  if (output !== `tether-agent ${AGENT_VERSION}`) {
    throw new BuildError(`${file} --version printed ${JSON.stringify(output)}`);
  }
  return output;
}

function npmPack(spec: string): string {
  const output = run('npm', ['pack', spec, '--json', '--pack-destination', CACHE], { cwd: CACHE });
  const [packed] = JSON.parse(output) as { filename: string }[];
  if (!packed) throw new BuildError(`npm pack ${spec} reported no file`);
  return join(CACHE, packed.filename);
}

/** Unpacks into a fresh folder beside `dir` and renames it, so a cut build leaves no half. */
function extract(tarball: string, dir: string, members: string[]): void {
  const temp = `${dir}.${process.pid}.tmp`;
  rmSync(temp, { recursive: true, force: true });
  mkdirSync(temp, { recursive: true });
  run('tar', ['-xzf', tarball, '-C', temp, '--strip-components=1', ...members]);
  rmSync(dir, { recursive: true, force: true });
  renameSync(temp, dir);
  // The unpacked folder is the cache; keeping the tarball too would only double its size.
  rmSync(tarball, { force: true });
}

function checkElf(file: string, arch: AgentArch): void {
  const header = Buffer.alloc(ELF_HEADER_BYTES);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, header, 0, ELF_HEADER_BYTES, 0);
  } finally {
    closeSync(fd);
  }
  const isElf = header.subarray(0, 4).equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  if (!isElf || header.readUInt16LE(ELF_MACHINE_OFFSET) !== ELF_MACHINE[arch]) {
    throw new BuildError(`${relative(ROOT, file)} is not a linux-${arch} ELF file`);
  }
}

function packageVersion(name: string): string {
  return readJson(requireFromAgent.resolve(`${name}/package.json`)).version as string;
}

function readJson(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
}

function requireTool(tool: string, aptPackage: string): void {
  if (hasTool(tool)) return;
  throw new BuildError(
    `${tool} is missing: apt-get install -y ${aptPackage}` +
      ' (or build one architecture: npm run build:agent -- --arch x64)',
  );
}

function hasTool(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0;
}

function run(command: string, args: string[], options: { cwd?: string } = {}): string {
  // The tsx loader this script runs under must not leak into the Node 24 blob generator.
  const { NODE_OPTIONS: _dropped, ...env } = process.env;
  const result = spawnSync(command, args, {
    cwd: options.cwd ?? ROOT,
    env,
    encoding: 'utf8',
    maxBuffer: 16 * MB,
    timeout: TOOL_TIMEOUT_MS,
  });
  if (result.error) throw new BuildError(`${command} did not run`, { cause: result.error });
  if (result.status !== 0) {
    const why = `${result.stderr}${result.stdout}`.trim().split('\n').slice(-15).join('\n');
    throw new BuildError(`${command} ${args.join(' ')} failed (${result.status}):\n${why}`);
  }
  return result.stdout;
}

/** Prints one line per step: its time, its label and what it produced. */
async function step<T>(label: string, work: () => T | Promise<T>): Promise<T> {
  const begun = performance.now();
  const value = await work();
  const shown = typeof value === 'string' && value.startsWith('/') ? relative(ROOT, value) : value;
  const detail = typeof shown === 'string' ? `: ${shown}` : '';
  say(`${seconds(performance.now() - begun).padStart(7)}  ${label}${detail}`);
  return value;
}

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

main().catch((error: unknown) => {
  const cause = error instanceof Error && error.cause instanceof Error ? `\n${error.cause}` : '';
  process.stderr.write(`build:agent: ${error instanceof Error ? error.message : error}${cause}\n`);
  process.exit(1);
});
