/** What the repository reports for the audit log; the host (endpoint) writes it with its codes. */
import type { Caller } from './visibility.ts';

export type RepositoryAuditKind =
  | 'scriptPublished'
  | 'scriptPublishRefused'
  | 'scriptYanked'
  | 'scriptDeprecated'
  | 'publisherKeyAdded'
  | 'publisherKeyRemoved'
  | 'scriptHidden'
  | 'scriptRefused';

export interface RepositoryAuditEvent {
  kind: RepositoryAuditKind;
  caller: Caller;
  params: Record<string, unknown>;
  result?: Record<string, unknown>;
}

export type AuditSink = (event: RepositoryAuditEvent) => Promise<void>;
