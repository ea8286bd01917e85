/** `tether tty AGENT` and `tether tty --watch SESSION`: a terminal through the endpoint. */
import { Command } from 'commander';
import type WebSocket from 'ws';
import type { ApprovalView, TerminalServerMessage } from '@tether/protocol';
import { listAgents, resolveAgent } from './agent-list.ts';
import type { Client } from './client.ts';
import { clientFor, withConnection } from './context.ts';
import { UsageError } from './errors.ts';

/** How often the approval is checked while the customer decides. */
const APPROVAL_POLL_MS = 1_000;
const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const SPINNER_FRAME_MS = 100;
/** Clears the local screen before a snapshot redraws it (ED 2 + cursor home). */
const CLEAR_SCREEN = '\x1b[H\x1b[2J';

const EXAMPLES = `
Examples:
  tether tty web-01                       ask the customer, then open a terminal
  tether tty web-01 --ticket 3f2a…        the same, for a ticket (pre-approval may apply)
  tether tty --watch 9c1e…                watch a live session read-only`;

export function ttyCommand(): Command {
  return withConnection(new Command('tty'))
    .description('open a terminal on an agent once its customer approves, or watch one')
    .argument('[agent]', 'agent name or id')
    .option('--ticket <id>', 'the ticket this terminal is for')
    .option('--watch <session>', 'watch a live session read-only instead')
    .addHelpText('after', EXAMPLES)
    .action(async (ref: string | undefined, options) => {
      const client = await clientFor(options);
      if (options.watch) {
        const ws = await client.socket(
          `/api/v1/terminals/${encodeURIComponent(options.watch)}/socket`,
          {
            doing: 'watching the session',
          },
        );
        process.exitCode = await pump(client, ws, false);
        return;
      }
      if (!ref) throw new UsageError('name the agent (tether tty web-01) or give --watch SESSION');
      const agent = resolveAgent(await listAgents(client), ref);
      const size = terminalSize();
      const asked = await client.post<{ approval: ApprovalView }>(
        `/api/v1/agents/${encodeURIComponent(agent.id)}/terminal-requests`,
        { ...(options.ticket ? { ticket: options.ticket } : {}), ...size },
        { doing: `asking for a terminal on ${agent.name}` },
      );
      const approval = await awaitDecision(client, asked.approval);
      if (approval.status !== 'approved') {
        process.stderr.write(
          `tether: the request was ${approval.status}; no terminal was opened\n`,
        );
        process.exitCode = 1;
        return;
      }
      const ws = await client.socket('/api/v1/terminals/socket', {
        query: { approval: approval.id, agent: agent.id, ticket: options.ticket, ...size },
        doing: `opening a terminal on ${agent.name}`,
      });
      process.exitCode = await pump(client, ws, true);
    });
}

/** Waits while the request is pending, with a spinner when stderr is a terminal. */
export async function awaitDecision(client: Client, first: ApprovalView): Promise<ApprovalView> {
  let approval = first;
  if (approval.status !== 'pending') return approval;
  const tty = process.stderr.isTTY;
  const message = 'waiting for the customer to approve…';
  let frame = 0;
  const spinner = tty
    ? setInterval(() => {
        frame = (frame + 1) % SPINNER.length;
        process.stderr.write(`\r${SPINNER[frame]} ${message}`);
      }, SPINNER_FRAME_MS)
    : null;
  if (!tty) process.stderr.write(`${message}\n`);
  try {
    while (approval.status === 'pending') {
      await new Promise((resolve) => setTimeout(resolve, APPROVAL_POLL_MS));
      const path = `/api/v1/approvals/${encodeURIComponent(approval.id)}`;
      approval = (await client.get<{ approval: ApprovalView }>(path)).approval;
    }
  } finally {
    if (spinner) {
      clearInterval(spinner);
      process.stderr.write('\r\x1b[K');
    }
  }
  return approval;
}

/**
 * Copies the socket to stdout and (when driving) stdin to the socket, in raw mode; restores
 * the terminal however it ends. Resolves with the exit status.
 */
function pump(client: Client, ws: WebSocket, drive: boolean): Promise<number> {
  const stdin = process.stdin;
  const raw = drive && stdin.isTTY;
  let status = 0;
  const restore = (): void => {
    if (raw) stdin.setRawMode(false);
  };
  process.once('exit', restore);
  if (raw) stdin.setRawMode(true);

  const onInput = (chunk: Buffer): void => {
    if (ws.readyState === ws.OPEN) ws.send(chunk, { binary: true });
  };
  const onResize = (): void => {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ type: 'resize', ...terminalSize() }));
  };
  if (drive) {
    stdin.on('data', onInput);
    stdin.resume();
    process.on('SIGWINCH', onResize);
  }

  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (isBinary) {
      // A full stdout pauses the socket: the endpoint then pauses the pty, nothing piles up.
      if (!process.stdout.write(data)) {
        ws.pause();
        process.stdout.once('drain', () => ws.resume());
      }
      return;
    }
    const message = JSON.parse(data.toString('utf8')) as TerminalServerMessage;
    if (message.type === 'snapshot') process.stdout.write(CLEAR_SCREEN);
    else if (message.type === 'hello' && message.readOnly)
      process.stderr.write(`[watching session ${message.session} read-only; Ctrl-C leaves]\r\n`);
    else if (message.type === 'ended') {
      const by = message.by ? ` by ${message.by}` : '';
      process.stderr.write(`\r\n[session ${message.status}${by}: ${message.reason}]\r\n`);
      if (message.status === 'interrupted') status = 1;
    } else if (message.type === 'error') {
      const error = client.streamError(message.error);
      process.stderr.write(`\r\ntether: ${error.message}\r\n`);
      if (message.error.code !== 'forbidden' && message.error.code !== 'invalid_request')
        status = 1;
    }
  });

  return new Promise((resolve) => {
    ws.on('close', () => {
      stdin.off('data', onInput);
      process.off('SIGWINCH', onResize);
      stdin.pause();
      restore();
      process.off('exit', restore);
      resolve(status);
    });
    ws.on('error', () => {
      status = 1;
    });
  });
}

function terminalSize(): { cols: number; rows: number } {
  const cols = Math.min(1000, Math.max(1, process.stdout.columns || 80));
  const rows = Math.min(500, Math.max(1, process.stdout.rows || 24));
  return { cols, rows };
}
