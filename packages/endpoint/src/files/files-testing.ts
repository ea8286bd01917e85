/** Test helpers for the files API: sessions opened the way the site and CLI open them. */
import type { Harness } from '../testing/harness.ts';

export interface FilesUser {
  id: string;
  token: string;
  username: string;
}

/** Sets the account's consent policy (as its customer would). */
export async function setPolicy(
  h: Harness,
  accountId: string,
  customer: FilesUser,
  policy: Record<string, unknown>,
): Promise<void> {
  const put = await h.api('PUT', `/api/v1/accounts/${accountId}/consent`, policy, customer.token);
  if (put.status !== 200) throw new Error(`policy: ${JSON.stringify(put.body)}`);
}

/**
 * An engineer's file session: asks for files.read (and files.write), has the customer
 * approve when the policy asks, and opens the session with the approvals.
 */
export async function engineerSession(
  h: Harness,
  agentId: string,
  engineer: FilesUser,
  customer: FilesUser,
  options: { write?: boolean; ticket?: string } = {},
): Promise<string> {
  const approval = async (action: 'files.read' | 'files.write') => {
    const asked = await h.api(
      'POST',
      `/api/v1/agents/${agentId}/access-requests`,
      { action, ...(options.ticket ? { ticket: options.ticket } : {}) },
      engineer.token,
    );
    if (asked.status !== 200) throw new Error(`ask ${action}: ${JSON.stringify(asked.body)}`);
    if (asked.body.approval.status === 'pending') {
      const decided = await h.api(
        'POST',
        `/api/v1/approvals/${asked.body.approval.id}/approve`,
        undefined,
        customer.token,
      );
      if (decided.status !== 200) throw new Error(`approve: ${JSON.stringify(decided.body)}`);
    }
    return asked.body.approval.id as string;
  };
  const body: Record<string, string> = { readApproval: await approval('files.read') };
  if (options.write) body.writeApproval = await approval('files.write');
  if (options.ticket) body.ticket = options.ticket;
  const opened = await h.api(
    'POST',
    `/api/v1/agents/${agentId}/file-sessions`,
    body,
    engineer.token,
  );
  if (opened.status !== 200) throw new Error(`open: ${JSON.stringify(opened.body)}`);
  return opened.body.session.id;
}

/** A raw request to the files API (downloads, uploads), with the caller's token. */
export function filesFetch(
  h: Harness,
  token: string,
  path: string,
  init: RequestInit = {},
): Promise<Response> {
  return fetch(`${h.url}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${token}`, ...(init.headers ?? {}) },
  });
}

export function q(path: string): string {
  return `path=${encodeURIComponent(path)}`;
}
