/** `tether fs ls|cat|rm|mkdir|mv|chmod|edit` and `tether cp`: an agent's files from the shell. */
import { Command, InvalidArgumentError } from 'commander';
import type { FileEntry } from '@tether/protocol';
import { clientFor, withConnection } from '../context.ts';
import { UsageError } from '../errors.ts';
import { formatJson, formatTable, printable } from '../output.ts';
import { cat, download, upload } from './copy.ts';
import { edit } from './edit.ts';
import { sessionPath, withFileSession, type SessionOptions } from './file-session.ts';
import { parseRemote, remoteArg } from './remote-path.ts';

const FS_HELP = `
Each command asks the server's customer for file reads (and writes, for changes) as the
account's policy says, waits for the answer, and ends its file session afterwards; --session
uses a session that is already open.

Examples:
  tether fs ls web-1:/etc/nginx
  tether fs cat web-1:/var/log/nginx/error.log | tail
  tether fs edit web-1:/etc/nginx/nginx.conf      opens $EDITOR, shows the diff, saves
  tether fs mkdir -m 750 web-1:/srv/app/releases
  tether fs mv web-1:/srv/app/old.conf /srv/app/new.conf
  tether fs chmod 640 web-1:/etc/app.conf
  tether fs rm -r web-1:/tmp/build`;

const CP_HELP = `
One side is AGENT:/path, the other a local path. A remote folder downloads as NAME.tar.gz.
An interrupted download resumes when the same command runs again.

Examples:
  tether cp ./app.conf web-1:/etc/app.conf
  tether cp a.txt b.txt web-1:/srv/drop/
  tether cp web-1:/var/log/syslog .
  tether cp web-1:/srv/site ./backups/`;

function sessionFlags(command: Command): Command {
  return command
    .option('--ticket <id>', 'the ticket this work is for')
    .option('--session <id>', 'use this open file session');
}

function sessionOptions(
  flags: { ticket?: string; session?: string },
  write: boolean,
): SessionOptions {
  return { write, ticket: flags.ticket, session: flags.session };
}

export function fsCommand(): Command {
  const fs = new Command('fs')
    .description("an agent's files: list, read, edit, change")
    .addHelpText('after', FS_HELP);

  fs.addCommand(
    sessionFlags(withConnection(new Command('ls'), { json: true }))
      .description('list a folder')
      .argument('<target>', 'AGENT:/path')
      .action(async (target: string, flags) => {
        const { agent, path } = remoteArg(target);
        const client = await clientFor(flags);
        await withFileSession(client, agent, sessionOptions(flags, false), async (session) => {
          const listing = await client.get<{ entries: FileEntry[]; truncated: boolean }>(
            sessionPath(session, 'list'),
            { query: { path }, doing: `listing ${path}` },
          );
          if (flags.json) return void process.stdout.write(formatJson(listing.entries));
          process.stdout.write(listTable(listing.entries));
          if (listing.truncated) process.stderr.write('(only the first 10000 entries)\n');
        });
      }),
  );

  fs.addCommand(
    sessionFlags(withConnection(new Command('cat')))
      .description('print a file')
      .argument('<target>', 'AGENT:/path')
      .action(async (target: string, flags) => {
        const { agent, path } = remoteArg(target);
        const client = await clientFor(flags);
        await withFileSession(client, agent, sessionOptions(flags, false), (session) =>
          cat(session, path),
        );
      }),
  );

  fs.addCommand(
    sessionFlags(withConnection(new Command('edit')))
      .description('edit a file in $EDITOR; shows the diff and saves with a conflict check')
      .argument('<target>', 'AGENT:/path')
      .option('-y, --yes', 'save without asking after showing the diff')
      .action(async (target: string, flags) => {
        const { agent, path } = remoteArg(target);
        const client = await clientFor(flags);
        process.exitCode = await withFileSession(
          client,
          agent,
          sessionOptions(flags, true),
          (session) => edit(session, path, { yes: Boolean(flags.yes) }),
        );
      }),
  );

  fs.addCommand(
    sessionFlags(withConnection(new Command('rm')))
      .description('delete a file, a symlink or (with -r) a folder and everything in it')
      .argument('<target>', 'AGENT:/path')
      .option('-r, --recursive', 'delete a folder with its contents')
      .action(async (target: string, flags) => {
        const { agent, path } = remoteArg(target);
        const client = await clientFor(flags);
        await withFileSession(client, agent, sessionOptions(flags, true), (session) =>
          client.post(
            sessionPath(session, 'delete'),
            { path, recursive: Boolean(flags.recursive) },
            {
              doing: `deleting ${path}`,
            },
          ),
        );
      }),
  );

  fs.addCommand(
    sessionFlags(withConnection(new Command('mkdir')))
      .description('make a folder')
      .argument('<target>', 'AGENT:/path')
      .option('-m, --mode <octal>', 'its mode, e.g. 750', modeArg)
      .action(async (target: string, flags) => {
        const { agent, path } = remoteArg(target);
        const client = await clientFor(flags);
        await withFileSession(client, agent, sessionOptions(flags, true), (session) =>
          client.post(
            sessionPath(session, 'mkdir'),
            { path, ...(flags.mode === undefined ? {} : { mode: flags.mode }) },
            {
              doing: `making ${path}`,
            },
          ),
        );
      }),
  );

  fs.addCommand(
    sessionFlags(withConnection(new Command('mv')))
      .description('rename or move on one agent; an existing target is never replaced')
      .argument('<from>', 'AGENT:/path')
      .argument('<to>', '/path or AGENT:/path on the same agent')
      .action(async (from: string, to: string, flags) => {
        const source = remoteArg(from);
        const target = parseRemote(to) ?? { agent: source.agent, path: to };
        if (target.agent !== source.agent)
          throw new UsageError('mv works on one agent; use cp between agents');
        if (!target.path.startsWith('/'))
          throw new UsageError('the target must be an absolute path');
        const client = await clientFor(flags);
        await withFileSession(client, source.agent, sessionOptions(flags, true), (session) =>
          client.post(
            sessionPath(session, 'rename'),
            { from: source.path, to: target.path },
            {
              doing: `renaming ${source.path}`,
            },
          ),
        );
      }),
  );

  fs.addCommand(
    sessionFlags(withConnection(new Command('chmod')))
      .description('change a mode (octal, as chmod takes it)')
      .argument('<mode>', 'e.g. 640', modeArg)
      .argument('<target>', 'AGENT:/path')
      .action(async (mode: number, target: string, flags) => {
        const { agent, path } = remoteArg(target);
        const client = await clientFor(flags);
        await withFileSession(client, agent, sessionOptions(flags, true), (session) =>
          client.post(
            sessionPath(session, 'chmod'),
            { path, mode },
            { doing: `changing the mode of ${path}` },
          ),
        );
      }),
  );
  return fs;
}

export function cpCommand(): Command {
  return sessionFlags(withConnection(new Command('cp')))
    .description('copy files to or from an agent, with a progress bar; downloads resume')
    .argument('<paths...>', 'SOURCE... DESTINATION; one side AGENT:/path')
    .option('-n, --no-clobber', 'never replace a file on the agent')
    .addHelpText('after', CP_HELP)
    .action(async (paths: string[], flags) => {
      if (paths.length < 2) throw new UsageError('give a source and a destination');
      const destination = paths[paths.length - 1];
      const sources = paths.slice(0, -1);
      const remoteTarget = parseRemote(destination);
      const client = await clientFor(flags);
      if (remoteTarget) {
        if (sources.some((s) => parseRemote(s)))
          throw new UsageError('copy between a local path and an agent');
        await withFileSession(client, remoteTarget.agent, sessionOptions(flags, true), (session) =>
          upload(session, sources, remoteTarget.path, flags.clobber !== false),
        );
        return;
      }
      if (sources.length !== 1) throw new UsageError('download one AGENT:/path at a time');
      const source = remoteArg(sources[0]);
      await withFileSession(client, source.agent, sessionOptions(flags, false), async (session) => {
        const saved = await download(session, source.path, destination);
        process.stderr.write(printable(`${session.agent.name}:${source.path} → ${saved}`) + '\n');
      });
    });
}

function listTable(entries: FileEntry[]): string {
  const rows = entries.map((e) => [
    modeText(e),
    e.owner ?? String(e.uid),
    e.group ?? String(e.gid),
    String(e.size),
    e.mtime.slice(0, 16).replace('T', ' '),
    e.type === 'symlink'
      ? `${e.name} -> ${e.target ?? ''}`
      : e.type === 'dir'
        ? `${e.name}/`
        : e.name,
  ]);
  return formatTable(['MODE', 'OWNER', 'GROUP', 'SIZE', 'MODIFIED', 'NAME'], rows);
}

function modeText(e: FileEntry): string {
  const kind = { file: '-', dir: 'd', symlink: 'l', other: '?' }[e.type];
  const bits = 'rwxrwxrwx'
    .split('')
    .map((letter, i) => (e.mode & (0o400 >> i) ? letter : '-'))
    .join('');
  return kind + bits;
}

function modeArg(text: string): number {
  if (!/^[0-7]{3,4}$/.test(text))
    throw new InvalidArgumentError(`expected an octal mode like 640, got "${text}"`);
  return parseInt(text, 8);
}
