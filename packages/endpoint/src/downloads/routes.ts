/** Agent downloads: the install script, the two executables and their SHA-256 sums. */
import { createHash } from 'node:crypto';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  AGENT_DOWNLOADS,
  AGENT_DOWNLOAD_NAMES,
  DOWNLOADS_PATH,
  INSTALL_SCRIPT_PATH,
  TetherError,
  type AgentArch,
  type AgentDownload,
} from '@tether/protocol';
import { renderInstallScript } from './install-script.ts';

const SHA256_SUFFIX = '.sha256';
const NAMES_TEXT = AGENT_DOWNLOAD_NAMES.join(' and ');

export interface DownloadsOptions {
  /** Where `npm run build:agent` put the executables (dist/agent). */
  distDir: string;
  /** The endpoint's public base URL as the caller reached it; agents dial and download here. */
  publicUrl: (req: FastifyRequest) => string;
}

export interface DownloadEntry {
  name: AgentDownload;
  arch: AgentArch;
  size: number;
  sha256: string;
  url: string;
}

interface Digest {
  mtimeMs: number;
  size: number;
  sha256: Promise<string>;
}

/**
 * Registers the routes. A file name from a request is only ever compared against the two known
 * names; the path opened on disk is built from the constant, so `..` and friends reach nothing.
 */
export async function registerDownloads(
  app: FastifyInstance,
  opts: DownloadsOptions,
): Promise<void> {
  const digests = new Map<AgentDownload, Digest>();

  /** Hashes each build once; a rebuild changes mtime or size and is hashed again. */
  async function sha256Of(name: AgentDownload, size: number, mtimeMs: number): Promise<string> {
    const known = digests.get(name);
    if (known && known.size === size && known.mtimeMs === mtimeMs) return known.sha256;

    const sha256 = hashFile(join(opts.distDir, name)).catch((error: unknown) => {
      if (digests.get(name)?.sha256 === sha256) digests.delete(name);
      throw notBuilt(name, error);
    });
    digests.set(name, { size, mtimeMs, sha256 });
    return sha256;
  }

  async function describe(name: AgentDownload, req: FastifyRequest): Promise<DownloadEntry> {
    const info = await statBuild(opts.distDir, name);
    const sha256 = await sha256Of(name, info.size, info.mtimeMs);
    const url = `${opts.publicUrl(req).replace(/\/+$/, '')}${DOWNLOADS_PATH}${name}`;
    return { name, arch: archOf(name), size: info.size, sha256, url };
  }

  app.get(INSTALL_SCRIPT_PATH, async (req, reply) => {
    reply.type('text/x-shellscript; charset=utf-8').header('cache-control', 'no-cache');
    return renderInstallScript(opts.publicUrl(req));
  });

  app.get(DOWNLOADS_PATH, async (req) => {
    const files: DownloadEntry[] = [];
    for (const name of AGENT_DOWNLOAD_NAMES) {
      try {
        files.push(await describe(name, req));
      } catch (error) {
        // A build that is not there is simply not listed.
        if (!(error instanceof TetherError && error.code === 'not_found')) throw error;
      }
    }
    return { files };
  });

  app.route<{ Params: { file: string } }>({
    method: ['GET', 'HEAD'],
    url: `${DOWNLOADS_PATH}:file`,
    // HEAD is answered here from a stat: the automatic one would read the whole file.
    exposeHeadRoute: false,
    handler: async (req, reply) => {
      const requested = req.params.file;
      const wantsSum = requested.endsWith(SHA256_SUFFIX);
      const name = knownName(wantsSum ? requested.slice(0, -SHA256_SUFFIX.length) : requested);

      if (wantsSum) {
        const info = await statBuild(opts.distDir, name);
        const sha256 = await sha256Of(name, info.size, info.mtimeMs);
        reply.type('text/plain; charset=utf-8');
        return `${sha256}  ${name}\n`;
      }

      const handle = await openBuild(opts.distDir, name);
      const info = await handle.stat();
      reply
        .type('application/octet-stream')
        .header('content-length', info.size)
        .header('content-disposition', `attachment; filename="${name}"`)
        .header('last-modified', info.mtime.toUTCString());
      if (req.method === 'HEAD') {
        await handle.close();
        return reply.send();
      }
      return reply.send(handle.createReadStream());
    },
  });
}

function knownName(requested: string): AgentDownload {
  const name = AGENT_DOWNLOAD_NAMES.find((known) => known === requested);
  if (!name) throw new TetherError('not_found', `no such download: there are ${NAMES_TEXT}`);
  return name;
}

function archOf(name: AgentDownload): AgentArch {
  return (Object.keys(AGENT_DOWNLOADS) as AgentArch[]).find((a) => AGENT_DOWNLOADS[a] === name)!;
}

async function statBuild(distDir: string, name: AgentDownload) {
  try {
    return await stat(join(distDir, name));
  } catch (error) {
    throw notBuilt(name, error);
  }
}

async function openBuild(distDir: string, name: AgentDownload): Promise<FileHandle> {
  try {
    return await open(join(distDir, name), 'r');
  } catch (error) {
    throw notBuilt(name, error);
  }
}

function notBuilt(name: AgentDownload, error: unknown): Error {
  if ((error as NodeJS.ErrnoException).code !== 'ENOENT') return error as Error;
  return new TetherError(
    'not_found',
    `${name} is not built on this endpoint: run \`npm run build:agent\` there`,
    { cause: error },
  );
}

async function hashFile(file: string): Promise<string> {
  const handle = await open(file, 'r');
  const hash = createHash('sha256');
  try {
    for await (const chunk of handle.createReadStream({ autoClose: false })) hash.update(chunk);
  } finally {
    await handle.close();
  }
  return hash.digest('hex');
}
