/** One-off commands: the request the API takes, the result it gives, and the stream frames. */
import { z } from 'zod';

/** Defaults and bounds for one command, in milliseconds and bytes. */
export const EXEC_DEFAULT_TIMEOUT_MS = 30_000;
export const EXEC_MAX_TIMEOUT_MS = 24 * 60 * 60 * 1000;
/** The buffered REST variant returns at most this much of each stream; the socket streams all. */
export const EXEC_REST_OUTPUT_LIMIT_BYTES = 1024 * 1024;
/** The audit record keeps the first 64 KiB of output, as the foundation issue asks. */
export const EXEC_AUDIT_OUTPUT_BYTES = 64 * 1024;
export const EXEC_MAX_STDIN_BYTES = 1024 * 1024;

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'not a valid environment name');

/**
 * What runs travels in one SSH request packet, which ssh2 caps near 35,000 bytes; 32 KiB of
 * argv, command, cwd and env leaves room for the rest. Larger input belongs on stdin.
 */
export const EXEC_MAX_COMMAND_BYTES = 32 * 1024;

/** Operating systems end strings at NUL: a word holding one cannot be passed to a program. */
const word = z.string().refine((w) => !w.includes('\0'), 'must not contain a NUL byte');

export const ExecRequest = z
  .strictObject({
    argv: z
      .array(word)
      .min(1)
      .max(4096)
      .refine((argv) => argv[0] !== '', 'the program (argv[0]) must not be empty')
      .optional(),
    command: word.min(1).optional(),
    cwd: word.min(1).max(4096).optional(),
    env: z.record(envName, word).optional(),
    timeoutMs: z.number().int().positive().max(EXEC_MAX_TIMEOUT_MS, 'at most 24 hours').optional(),
    stdin: z.string().max(EXEC_MAX_STDIN_BYTES).optional(),
  })
  .refine((r) => (r.argv === undefined) !== (r.command === undefined), {
    message: 'give exactly one of argv or command',
  })
  .refine((r) => commandBytes(r) <= EXEC_MAX_COMMAND_BYTES, {
    message: `argv, command, cwd and env together must stay under ${EXEC_MAX_COMMAND_BYTES / 1024} KiB; pass large input on stdin`,
  });
export type ExecRequest = z.infer<typeof ExecRequest>;

export interface ExecResult {
  execId: string;
  /** The exit status, or null when the process ended by a signal or never started. */
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  /** Stopped on request, or at the endpoint's own deadline when the agent did not stop it. */
  cancelled: boolean;
  stdout: string;
  stderr: string;
  /** True when stdout or stderr was cut to the limit of where it was returned or stored. */
  truncated: boolean;
  stdoutBytes: number;
  stderrBytes: number;
  durationMs: number;
}

/** First byte of each binary frame on the exec socket. */
export const STREAM_STDOUT = 1;
export const STREAM_STDERR = 2;

/** Text frames on `/api/v1/agents/:id/exec/stream`. The client sends `start` once. */
export const ExecClientMessage = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('start'), request: z.unknown() }),
  z.strictObject({ type: z.literal('cancel') }),
]);
export type ExecClientMessage = z.infer<typeof ExecClientMessage>;

export type ExecServerMessage =
  | { type: 'started'; execId: string }
  | { type: 'exit'; result: Omit<ExecResult, 'stdout' | 'stderr'> }
  | { type: 'error'; error: { code: string; message: string } };

function commandBytes(r: {
  argv?: string[];
  command?: string;
  cwd?: string;
  env?: object;
}): number {
  return Buffer.byteLength(JSON.stringify([r.argv, r.command, r.cwd, r.env]));
}
