/** The terminal and consent REST calls the terminal pages make (same-origin, the session cookie). */
import type { ApprovalView } from '@tether/protocol';
import { ApiError, NETWORK_ERROR, errorFrom } from '../api/client.ts';

export type Approval = ApprovalView;

/** A terminal session as GET /api/v1/terminals lists it. */
export interface TerminalSession {
  id: string;
  agentId: string;
  accountId: string;
  ticketId: string | null;
  approvalId: string | null;
  engineerId: string;
  status: 'live' | 'ended' | 'interrupted';
  startedAt: string;
  endedAt: string | null;
  endedBy: string | null;
  /** The username of who ended it, as the live `ended` message gives it. */
  endedByName: string | null;
  endReason: string | null;
  cols: number;
  rows: number;
  bytesOut: number;
  bytesIn: number;
}

/** One server's sessions, or one support request's. */
export type SessionFilter = { agent: string } | { ticket: string };

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  let response: Response;
  try {
    response = await fetch(`/api/v1${path}`, {
      method,
      credentials: 'same-origin',
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (cause) {
    throw new ApiError(NETWORK_ERROR, 'cannot reach the Tether server', 0, { cause });
  }
  let parsed: unknown;
  try {
    parsed = await response.json();
  } catch {
    throw errorFrom(response, undefined);
  }
  if (response.ok) return parsed as T;
  throw errorFrom(response, parsed);
}

const enc = encodeURIComponent;

export const terminalApi = {
  request: (agent: string, body: { ticket?: string; cols: number; rows: number }) =>
    call<{ approval: Approval }>('POST', `/agents/${enc(agent)}/terminal-requests`, body).then(
      (r) => r.approval,
    ),
  approval: (id: string) =>
    call<{ approval: Approval }>('GET', `/approvals/${enc(id)}`).then((r) => r.approval),
  sessions: (filter: SessionFilter) =>
    call<{ sessions: TerminalSession[] }>(
      'GET',
      `/terminals?${new URLSearchParams(filter).toString()}`,
    ).then((r) => r.sessions),
  session: (id: string) =>
    call<{ session: TerminalSession }>('GET', `/terminals/${enc(id)}`).then((r) => r.session),
  end: (id: string) => call<{ ok: true }>('POST', `/terminals/${enc(id)}/end`, {}),
  recordingUrl: (id: string) => `/api/v1/terminals/${enc(id)}/recording`,
  /** The recording cut at keyframes, for asciinema-player's segmented source. */
  playbackUrl: (id: string) => `/api/v1/terminals/${enc(id)}/playback`,
};
