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

export const ExecRequest = z
  .strictObject({
    argv: z
      .array(z.string().max(128 * 1024))
      .min(1)
      .max(4096)
      .optional(),
    command: z
      .string()
      .min(1)
      .max(128 * 1024)
      .optional(),
    cwd: z.string().min(1).max(4096).optional(),
    env: z.record(envName, z.string().max(32 * 1024)).optional(),
    timeoutMs: z.number().int().positive().max(EXEC_MAX_TIMEOUT_MS).optional(),
    stdin: z.string().max(EXEC_MAX_STDIN_BYTES).optional(),
  })
  .refine((r) => (r.argv === undefined) !== (r.command === undefined), {
    message: 'give exactly one of argv or command',
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
