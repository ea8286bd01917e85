/** Consent and live terminals: policy, approval requests, and the terminal socket's frames. */
import { z } from 'zod';

/** Terminal size bounds: anything outside is refused, so a bad client cannot make a huge screen. */
export const TERMINAL_MAX_COLS = 1000;
export const TERMINAL_MAX_ROWS = 500;
/** An unanswered request waits this long unless the account says otherwise (issue 3: 5 min). */
export const CONSENT_DEFAULT_TIMEOUT_SECONDS = 300;

export const TerminalMode = z.enum(['always_ask', 'preapprove_assignee']);
export type TerminalMode = z.infer<typeof TerminalMode>;

export const ConsentPolicy = z.strictObject({
  terminalMode: TerminalMode.default('always_ask'),
  timeoutSeconds: z.number().int().min(10).max(86_400).default(CONSENT_DEFAULT_TIMEOUT_SECONDS),
  recordInput: z.boolean().default(true),
});
export type ConsentPolicy = z.infer<typeof ConsentPolicy>;

const cols = z.number().int().min(1).max(TERMINAL_MAX_COLS);
const rows = z.number().int().min(1).max(TERMINAL_MAX_ROWS);

export const TerminalRequest = z.strictObject({
  ticket: z.string().min(1).max(64).optional(),
  cols: cols.default(80),
  rows: rows.default(24),
});

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
