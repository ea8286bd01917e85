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

/** What was done for a ticket, stored when it closed (packages/endpoint tickets/ticket-summary.ts). */
export interface TicketSessionEntry {
  id: string;
  engineer: TicketPerson;
  status: string;
  startedAt: string;
  endedAt: string | null;
  durationMs: number | null;
  endedBy: TicketPerson | null;
  endReason: string | null;
  links: { session: string; recording: string };
}

export interface TicketCommandEntry {
  execId: string | null;
  auditId: string;
  code: string;
  time: string;
  command: string;
  exitCode: number | null;
  signal: string | null;
  durationMs: number | null;
  ok: boolean;
}

export interface TicketSummary {
  takenAt: string | null;
  closedAt: string;
  workedMs: number | null;
  sessions: TicketSessionEntry[];
  commands: TicketCommandEntry[];
  totals: { sessions: number; commands: number; failedCommands: number; terminalMs: number };
  truncated: boolean;
  links: { audit: string | null };
}

/** GET /api/v1/tickets/:id: the ticket and, once closed, its summary. */
export interface TicketDetail extends Ticket {
  summary: TicketSummary | null;
}

/** One message in a server's chat room; `body` is plain text, rendered as text only. */
export interface ChatMessage {
  id: string;
  agentId: string;
  ticketId: string | null;
  author: { id: string; name: string; role: string };
  body: string;
  createdAt: string;
}

export interface ChatPage {
  messages: ChatMessage[];
  nextCursor: string | null;
}

export type { ApprovalView as Approval, ConsentPolicy } from '@tether/protocol';
