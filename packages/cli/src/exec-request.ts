/** Builds the exec request from `tether exec` flags: argv, cwd, env, deadline, stdin. */
import { InvalidArgumentError } from 'commander';
import { EXEC_MAX_STDIN_BYTES, EXEC_MAX_TIMEOUT_MS } from '@tether/protocol';
import { UsageError } from './errors.ts';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MS_PER_HOUR = 3_600_000;

export interface ExecRequestBody {
  argv: string[];
  cwd?: string;
  env?: Record<string, string>;
  timeoutMs?: number;
  stdin?: string;
}

export interface ExecFlags {
  cwd?: string;
  env?: Record<string, string>;
  timeout?: number;
}

export function buildRequest(argv: string[], flags: ExecFlags, stdin?: string): ExecRequestBody {
  if (argv.length === 0) throw new UsageError('no command given: put it after --, e.g. -- uptime');
  if (flags.timeout && flags.timeout > EXEC_MAX_TIMEOUT_MS) {
    throw new UsageError(`--timeout must be at most ${EXEC_MAX_TIMEOUT_MS / MS_PER_HOUR}h`);
  }
  const request: ExecRequestBody = { argv };
  if (flags.cwd) request.cwd = flags.cwd;
  if (flags.env && Object.keys(flags.env).length > 0) request.env = flags.env;
  if (flags.timeout) request.timeoutMs = flags.timeout;
  if (stdin !== undefined) request.stdin = stdin;
  return request;
}

/** Commander collector for repeated `--env K=V`. */
export function envArg(
  text: string,
  previous: Record<string, string> = {},
): Record<string, string> {
  const at = text.indexOf('=');
  const name = at === -1 ? text : text.slice(0, at);
  if (at === -1 || !ENV_NAME.test(name)) {
    const expected = 'expected NAME=value with NAME like PATH or MY_VAR';
    throw new InvalidArgumentError(`${expected}, got "${text}"`);
  }
  return { ...previous, [name]: text.slice(at + 1) };
}

/** Reads all of stdin as UTF-8 text, refusing a terminal and anything over the API's limit. */
export async function readStdin(input: NodeJS.ReadStream = process.stdin): Promise<string> {
  if (input.isTTY) throw new UsageError('--stdin needs input from a pipe or file, not a terminal');

  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of input as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > EXEC_MAX_STDIN_BYTES) {
      input.destroy();
      const mib = EXEC_MAX_STDIN_BYTES / 1024 / 1024;
      throw new UsageError(`stdin is over ${mib} MiB, the most exec takes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
