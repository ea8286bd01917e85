/** Follows `/api/v1/live` for audit events, reconnecting with backoff when the endpoint goes. */
import type { AuditEventView, LiveServerMessage } from '@tether/protocol';
import type WebSocket from 'ws';
import { auditRow } from './audit-view.ts';
import type { Client } from './client.ts';
import { ApiError, NOT_SIGNED_IN } from './errors.ts';
import { printable } from './output.ts';

/** Backoff doubles from the first delay up to the cap, with jitter so clients spread out. */
const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 30_000;
/** We ping this often; silence for two intervals means the link is dead though TCP lives. */
const PING_INTERVAL_MS = 20_000;
/** A link that lasted this long was healthy; the next loss starts the backoff afresh. */
const STABLE_LINK_MS = 10_000;
const EXIT_INTERRUPTED = 130;
const EXIT_BROKEN_PIPE = 141;

export interface TailOptions {
  json: boolean;
}

/**
 * Prints events until Ctrl-C (or until whoever reads stdout goes away) and answers the exit
 * status; errors that retrying cannot fix, such as a revoked token, are thrown.
 */
export async function tailAudit(client: Client, options: TailOptions): Promise<number> {
  let status: number | undefined;
  let current: WebSocket | undefined;
  let wake: (() => void) | undefined;
  const stop = (exitStatus: number) => (): void => {
    status ??= exitStatus;
    current?.close(1000);
    wake?.();
  };
  const onInterrupt = stop(EXIT_INTERRUPTED);
  const onOutputGone = stop(EXIT_BROKEN_PIPE);
  process.on('SIGINT', onInterrupt);
  process.stdout.on('error', onOutputGone);

  try {
    let attempt = 0;
    let lostAt: string | undefined;
    while (status === undefined) {
      try {
        current = await client.socket('/api/v1/live', { doing: 'following the audit log' });
        if (status !== undefined) {
          current.close(1000);
          break;
        }
        if (lostAt) announceGap(lostAt);
        lostAt = undefined;

        const since = Date.now();
        const code = await follow(current, options);
        if (Date.now() - since > STABLE_LINK_MS) attempt = 0;
        if (status === undefined) throw new Error(`lost the connection (close code ${code})`);
      } catch (error) {
        if (isFatal(error)) throw error;
        if (status !== undefined) break;
        lostAt ??= new Date().toISOString();
        const delay = backoff(attempt++);
        const seconds = (delay / 1000).toFixed(1);
        process.stderr.write(`tether: ${reason(error)}; reconnecting in ${seconds}s\n`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delay);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    }
    return status ?? EXIT_INTERRUPTED;
  } finally {
    process.off('SIGINT', onInterrupt);
    process.stdout.off('error', onOutputGone);
  }
}

/** Subscribes and prints until the socket closes; answers the close code. */
function follow(ws: WebSocket, options: TailOptions): Promise<number> {
  return new Promise((resolve) => {
    let heard = Date.now();
    const heartbeat = setInterval(() => {
      if (Date.now() - heard > 2 * PING_INTERVAL_MS) ws.terminate();
      else ws.send(JSON.stringify({ type: 'ping' }));
    }, PING_INTERVAL_MS);

    ws.on('message', (data: Buffer, isBinary: boolean) => {
      heard = Date.now();
      if (isBinary) return;
      const message = parse(data);
      if (message?.type === 'audit') print(message.event, options);
      if (message?.type === 'error') {
        process.stderr.write(`tether: endpoint says: ${printable(message.error.message)}\n`);
      }
    });
    ws.once('close', (code: number) => {
      clearInterval(heartbeat);
      resolve(code);
    });
    ws.once('error', () => {
      // The close event follows every error and reports it; nothing more to do here.
    });
    ws.send(JSON.stringify({ type: 'subscribe', topics: ['audit'] }));
  });
}

function print(event: AuditEventView, options: TailOptions): void {
  if (options.json) process.stdout.write(`${JSON.stringify(event)}\n`);
  else process.stdout.write(`${auditRow(event).map(printable).join('  ')}\n`);
}

function announceGap(since: string): void {
  const hint = `tether audit ls --since ${since}`;
  process.stderr.write(`tether: reconnected; events since ${since} were missed: ${hint}\n`);
}

/** Signing in again or a missing route will not fix itself by retrying. */
function isFatal(error: unknown): boolean {
  return error instanceof ApiError && error.status >= 400 && error.status < 500;
}

function reason(error: unknown): string {
  if (error instanceof ApiError && error.status === 401) return NOT_SIGNED_IN;
  return error instanceof Error ? error.message : String(error);
}

function backoff(attempt: number): number {
  const ceiling = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** attempt);
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

function parse(data: Buffer): LiveServerMessage | undefined {
  try {
    return JSON.parse(data.toString('utf8')) as LiveServerMessage;
  } catch {
    // Not JSON: an endpoint slip; skipping one frame loses nothing we could show.
    return undefined;
  }
}
