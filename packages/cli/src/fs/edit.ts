/**
 * `tether fs edit AGENT:/path`: the file in $EDITOR as a local copy, the diff shown, then saved
 * back only if nobody changed it meanwhile. On a conflict the local copy stays where it is
 * and its path is printed, so nothing typed is lost.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline/promises';
import type { FileTextView } from '@tether/protocol';
import { ApiError, UsageError } from '../errors.ts';
import { sessionPath, type OpenSession } from './file-session.ts';
import { lastName } from './remote-path.ts';
import { printable } from '../output.ts';

export interface EditOptions {
  yes: boolean;
}

export async function edit(
  session: OpenSession,
  remote: string,
  options: EditOptions,
): Promise<number> {
  const file = await session.client.get<FileTextView>(sessionPath(session, 'text'), {
    query: { path: remote },
    doing: `reading ${remote}`,
  });
  if (file.hash === null || file.binary)
    throw new UsageError(
      `${remote} is ${file.binary ? 'binary' : 'larger than 2 MiB'}; use tether cp to download and upload it`,
    );

  const dir = await mkdtemp(join(tmpdir(), 'tether-edit-'));
  const local = join(dir, lastName(remote));
  await writeFile(local, file.content, { mode: 0o600 });
  let keep = false;
  try {
    try {
      await runEditor(local);
    } catch (error) {
      keep = true;
      process.stderr.write(`your copy is at ${local}\n`);
      throw error;
    }
    const content = await readFile(local, 'utf8');
    if (content === file.content) {
      process.stderr.write('no changes; nothing saved\n');
      return 0;
    }
    const body = { path: remote, content, baseHash: file.hash };
    const preview = await session.client.post<{ diff: string; conflict: boolean }>(
      sessionPath(session, 'diff'),
      body,
      { doing: `comparing ${remote}` },
    );
    process.stderr.write(shownDiff(preview.diff));
    if (!options.yes && process.stdin.isTTY && !(await confirm(`save ${remote}? [y/N] `))) {
      keep = true;
      process.stderr.write(`not saved; your copy is at ${local}\n`);
      return 1;
    }
    try {
      await session.client.request('PUT', sessionPath(session, 'text'), {
        body,
        doing: `saving ${remote}`,
      });
    } catch (error) {
      if (!(error instanceof ApiError) || error.code !== 'conflict') throw error;
      keep = true;
      const diff = typeof error.details?.diff === 'string' ? error.details.diff : '';
      process.stderr.write(
        `${remote} changed on the server while you edited; nothing was saved.\n` +
          `Your version is kept at ${local}. The server's version against yours:\n${shownDiff(diff)}`,
      );
      return 1;
    }
    process.stderr.write(`saved ${printable(`${session.agent.name}:${remote}`)}\n`);
    return 0;
  } finally {
    if (!keep) await rm(dir, { recursive: true, force: true });
  }
}

/** $VISUAL, $EDITOR or vi, through the shell so `code --wait` works as people write it. */
function runEditor(file: string): Promise<void> {
  const editor = process.env.VISUAL || process.env.EDITOR || 'vi';
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', `${editor} "$1"`, 'tether-edit', file], {
      stdio: 'inherit',
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (code === 0) resolve();
      else
        reject(
          new UsageError(
            `the editor (${editor}) ended with ${signal ?? `status ${code}`}; nothing saved`,
          ),
        );
    });
  });
}

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

/** A diff for the terminal: the file's own escape sequences cannot drive it. */
function shownDiff(diff: string): string {
  return diff.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '?');
}
