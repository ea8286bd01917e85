/** The site's one way to the REST API: same-origin fetch, the session cookie, typed answers. */
import type {
  Account,
  Agent,
  Approval,
  ChatPage,
  ConsentPolicy,
  TicketDetail,
  AuditPage,
  JoinToken,
  Ticket,
  TicketPage,
  TicketStatus,
  User,
} from './types.ts';

const API_BASE = '/api/v1';

/** A failed call. `code` is the endpoint's stable error code; branch on it, never the message. */
export class ApiError extends Error {
  readonly code: string;
  readonly status: number;
  /** What the endpoint added for the caller to act on (a save conflict's current hash). */
  readonly details?: Record<string, unknown>;

  constructor(
    code: string,
    message: string,
    status: number,
    options?: { cause?: unknown; details?: Record<string, unknown> },
  ) {
    super(message, options);
    this.name = 'ApiError';
    this.code = code;
    this.status = status;
    this.details = options?.details;
  }
}

/** Codes the site adds for failures that never reached the endpoint's error shape. */
export const NETWORK_ERROR = 'network';
export const BAD_RESPONSE = 'bad_response';

export interface AuditQuery {
  agent?: string;
  limit?: number;
  cursor?: string;
}

export interface TicketQuery {
  status?: TicketStatus;
  agent?: string;
  cursor?: string;
  limit?: number;
}

export type ApiClient = ReturnType<typeof createApiClient>;

export function createApiClient(fetchImpl: typeof fetch = (...args) => fetch(...args)) {
  async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await fetchImpl(`${API_BASE}${path}`, {
        method,
        credentials: 'same-origin',
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (cause) {
      throw new ApiError(NETWORK_ERROR, 'cannot reach the Tether server', 0, { cause });
    }

    const parsed = await readJson(response);
    if (response.ok && parsed.ok) return parsed.value as T;
    throw errorFrom(response, parsed.ok ? parsed.value : undefined);
  }

  return {
    me: () => call<{ user: User }>('GET', '/me').then((r) => r.user),
    login: (username: string, password: string) =>
      call<{ user: User }>('POST', '/login', { username, password }).then((r) => r.user),
    logout: () => call<{ ok: true }>('POST', '/logout', {}),
    agents: () => call<{ agents: Agent[] }>('GET', '/agents').then((r) => r.agents),
    agent: (id: string) =>
      call<{ agent: Agent }>('GET', `/agents/${encodeURIComponent(id)}`).then((r) => r.agent),
    accounts: () => call<{ accounts: Account[] }>('GET', '/accounts').then((r) => r.accounts),
    createJoinToken: (account: string) => call<JoinToken>('POST', '/join-tokens', { account }),
    audit: (query: AuditQuery) => call<AuditPage>('GET', `/audit${queryString(query)}`),
    tickets: (query: TicketQuery) => call<TicketPage>('GET', `/tickets${queryString(query)}`),
    openTicket: (request: { agent: string; title: string; question: string }) =>
      call<{ ticket: Ticket }>('POST', '/tickets', request).then((r) => r.ticket),
    takeTicket: (id: string) =>
      call<{ ticket: Ticket }>('POST', `/tickets/${encodeURIComponent(id)}/take`, {}).then(
        (r) => r.ticket,
      ),
    ticket: (id: string) =>
      call<{ ticket: TicketDetail }>('GET', `/tickets/${encodeURIComponent(id)}`).then(
        (r) => r.ticket,
      ),
    closeTicket: (id: string) =>
      call<{ ticket: TicketDetail }>('POST', `/tickets/${encodeURIComponent(id)}/close`, {}).then(
        (r) => r.ticket,
      ),
    chatHistory: (agentId: string, before?: string) =>
      call<ChatPage>(
        'GET',
        `/agents/${encodeURIComponent(agentId)}/chat${before ? `?before=${encodeURIComponent(before)}` : ''}`,
      ),
    pendingApprovals: () =>
      call<{ approvals: Approval[] }>('GET', '/approvals?status=pending').then((r) => r.approvals),
    decideApproval: (id: string, approve: boolean) =>
      call<{ approval: Approval }>(
        'POST',
        `/approvals/${encodeURIComponent(id)}/${approve ? 'approve' : 'deny'}`,
        {},
      ).then((r) => r.approval),
    consent: (accountId: string) =>
      call<{ policy: ConsentPolicy }>(
        'GET',
        `/accounts/${encodeURIComponent(accountId)}/consent`,
      ).then((r) => r.policy),
    setConsent: (accountId: string, policy: ConsentPolicy) =>
      call<{ policy: ConsentPolicy }>(
        'PUT',
        `/accounts/${encodeURIComponent(accountId)}/consent`,
        policy,
      ).then((r) => r.policy),
  };
}

/** Maps an unsuccessful response to an ApiError, keeping the endpoint's code when it sent one. */
export function errorFrom(response: Response, body: unknown): ApiError {
  const error = (
    body as { error?: { code?: unknown; message?: unknown; details?: unknown } } | undefined
  )?.error;
  if (error && typeof error.code === 'string' && typeof error.message === 'string') {
    const details =
      typeof error.details === 'object' && error.details !== null
        ? (error.details as Record<string, unknown>)
        : undefined;
    return new ApiError(error.code, error.message, response.status, { details });
  }
  if (response.ok) return new ApiError(BAD_RESPONSE, 'the server sent an unreadable answer', 0);
  const reason = response.statusText ? ` ${response.statusText}` : '';
  return new ApiError(
    `http_${response.status}`,
    `the server answered ${response.status}${reason}`,
    response.status,
  );
}

async function readJson(response: Response): Promise<{ ok: true; value: unknown } | { ok: false }> {
  try {
    return { ok: true, value: await response.json() };
  } catch {
    // A proxy's HTML error page or an empty body: errorFrom describes it by status.
    return { ok: false };
  }
}

function queryString(query: AuditQuery | TicketQuery): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined) params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

export const api = createApiClient();
