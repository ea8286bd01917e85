/** Consent and live terminals: policy, approval requests, and the terminal socket's frames. */
import { z } from 'zod';

/** Terminal size bounds: anything outside is refused, so a bad client cannot make a huge screen. */
export const TERMINAL_MAX_COLS = 1000;
export const TERMINAL_MAX_ROWS = 500;
/** An unanswered request waits this long unless the account says otherwise (issue 3: 5 min). */
export const CONSENT_DEFAULT_TIMEOUT_SECONDS = 300;

export const TerminalMode = z.enum(['always_ask', 'preapprove_assignee']);
export type TerminalMode = z.infer<typeof TerminalMode>;

/**
 * What an account asks before an engineer acts on its servers: `allow` (no question),
 * `always_ask`, `preapprove_assignee` (the ticket's engineer goes ahead, others ask), `off`.
 */
export const ActionMode = z.enum(['allow', 'always_ask', 'preapprove_assignee', 'off']);
export type ActionMode = z.infer<typeof ActionMode>;

/** The actions an approval can be asked for; each approval is spent on one of them only. */
export const ApprovalAction = z.enum(['terminal', 'files.read', 'files.write', 'forward']);
export type ApprovalAction = z.infer<typeof ApprovalAction>;

/** Lists in a policy stay short: they are checked on every file operation and connection. */
const POLICY_LIST_MAX = 100;
const AbsolutePath = z
  .string()
  .min(1)
  .max(4096)
  .regex(/^\/[^\0]*$/, 'must be an absolute path');
/** `host:port`, `host:*`, or a CIDR block with a port: `10.0.0.0/8:5432`. */
const ForwardTarget = z
  .string()
  .min(3)
  .max(300)
  .regex(/^[^\s\0]+:(\*|\d{1,5})$/, 'must be host:port or host:*');

export const ConsentPolicy = z.strictObject({
  terminalMode: TerminalMode.default('always_ask'),
  timeoutSeconds: z.number().int().min(10).max(86_400).default(CONSENT_DEFAULT_TIMEOUT_SECONDS),
  recordInput: z.boolean().default(true),
  /** Listing folders and reading files. */
  fileReadMode: ActionMode.default('always_ask'),
  /** Saving, uploading, renaming, deleting, changing modes; `off` switches writes off. */
  fileWriteMode: ActionMode.default('always_ask'),
  /** When non-empty, only paths under these folders (after resolving symlinks) are reachable. */
  pathAllow: z.array(AbsolutePath).max(POLICY_LIST_MAX).default([]),
  /** Paths under these folders are refused, even inside an allowed one. */
  pathDeny: z.array(AbsolutePath).max(POLICY_LIST_MAX).default([]),
  /** Port forwarding to targets seen from the server. */
  forwardMode: ActionMode.default('always_ask'),
  /** When non-empty, only these targets; link-local and metadata addresses need listing. */
  forwardTargets: z.array(ForwardTarget).max(POLICY_LIST_MAX).default([]),
  /** Whether the account's customers may use files and forwards on their servers themselves. */
  selfService: z.boolean().default(false),
});
export type ConsentPolicy = z.infer<typeof ConsentPolicy>;

const cols = z.number().int().min(1).max(TERMINAL_MAX_COLS);
const rows = z.number().int().min(1).max(TERMINAL_MAX_ROWS);

export const TerminalRequest = z.strictObject({
  ticket: z.string().min(1).max(64).optional(),
  cols: cols.default(80),
  rows: rows.default(24),
});

/** Asking for access other than a terminal; `detail` says what for (a folder, a target). */
export const AccessRequest = z.strictObject({
  action: z.enum(['files.read', 'files.write', 'forward']),
  ticket: z.string().min(1).max(64).optional(),
  detail: z.string().max(500).optional(),
});
export type AccessRequest = z.infer<typeof AccessRequest>;

export type ApprovalStatus = 'pending' | 'approved' | 'denied' | 'expired' | 'used' | 'cancelled';

export interface ApprovalView {
  id: string;
  accountId: string;
  agentId: string;
  ticketId: string | null;
  requesterId: string;
  requesterName: string;
  action: string;
  status: ApprovalStatus;
  decidedBy: string | null;
  decidedAt: string | null;
  createdAt: string;
  expiresAt: string;
  sessionId: string | null;
}

/** Text frames a viewer sends; bytes (the engineer's keystrokes) travel as binary frames. */
export const TerminalClientMessage = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('resize'), cols, rows }),
  z.strictObject({ type: z.literal('end') }),
]);
export type TerminalClientMessage = z.infer<typeof TerminalClientMessage>;

/** Text frames the endpoint sends; terminal output travels only as binary frames. */
export type TerminalServerMessage =
  | {
      type: 'hello';
      session: string;
      role: 'engineer' | 'observer';
      readOnly: boolean;
      cols: number;
      rows: number;
    }
  /** The next binary frame is the serialized screen; draw it on a reset terminal. */
  | { type: 'snapshot'; cols: number; rows: number }
  | { type: 'resize'; cols: number; rows: number }
  | { type: 'ended'; by: string | null; reason: string; status: 'ended' | 'interrupted' }
  | { type: 'error'; error: { code: string; message: string } };
