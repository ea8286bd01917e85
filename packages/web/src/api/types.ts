/** The shapes the endpoint's REST API answers with, as the site reads them. */
import type { AgentView, AuditEventView, Role } from '@tether/protocol';

export type { Role };
export type AuditEvent = AuditEventView;

export interface User {
  id: string;
  username: string;
  displayName: string;
  role: Role;
  accountId: string | null;
  managerId: string | null;
}

/** An agent as the API shows it; the one definition lives in the protocol package. */
export type Agent = AgentView;

export interface Account {
  id: string;
  name: string;
  createdAt: string;
}

export interface JoinToken {
  id: string;
  token: string;
  accountId: string;
  accountName: string;
  expiresAt: string;
  maxUses: number;
  installCommand: string;
  agentCommand: string;
}

export interface AuditPage {
  events: AuditEvent[];
  nextCursor: string | null;
}

export type TicketStatus = 'open' | 'taken' | 'closed';

export interface TicketPerson {
  id: string;
  name: string | null;
}

/** A support request as GET /api/v1/tickets lists it. */
export interface Ticket {
  id: string;
  title: string;
  question: string;
  status: TicketStatus;
  account: { id: string; name: string | null };
  agent: { id: string; name: string | null; online: boolean };
  createdBy: TicketPerson;
  assignee: TicketPerson | null;
  closedBy: TicketPerson | null;
  createdAt: string;
  takenAt: string | null;
  closedAt: string | null;
}

export interface TicketPage {
  tickets: Ticket[];
  nextCursor: string | null;
}
