/** An agent as the API shows it (GET /api/v1/agents and /api/v1/agents/{id}). */
export interface AgentView {
  id: string;
  name: string;
  accountId: string;
  accountName: string;
  online: boolean;
  revoked: boolean;
  os: string;
  arch: string;
  version: string;
  hostname: string | null;
  connectedAt: string | null;
  lastSeenAt: string | null;
  enrolledAt: string;
  revokedAt: string | null;
}
