/**
 * Every audit event's stable code. The UI, the CLI and queries use these, never the wording.
 *
 * Numbering: `T` + four digits + `I` (the action happened) or `E` (it was refused or failed).
 * The first digit is the area: 1 people and sign-in, 2 agents and their link, 3 commands,
 * 4 join tokens, 5 accounts, 6 the audit log itself, 7 tickets and chat, 8 consent and
 * terminal sessions, 9 access denied by visibility or role. Within an area, the second digit
 * may name a feature: 35xx the script repository. Codes are never reused;
 * a retired code stays here, marked as such.
 */
export const AUDIT = {
  userLogin: { code: 'T1000I', event: 'user.login' },
  userLoginFailed: { code: 'T1000E', event: 'user.login' },
  userLogout: { code: 'T1001I', event: 'user.logout' },
  userCreated: { code: 'T1002I', event: 'user.create' },
  apiTokenCreated: { code: 'T1003I', event: 'api_token.create' },
  usersListed: { code: 'T1004I', event: 'user.list' },
  apiTokenRevoked: { code: 'T1005I', event: 'api_token.revoke' },
  userDisabled: { code: 'T1006I', event: 'user.disable' },
  apiTokensListed: { code: 'T1007I', event: 'api_token.list' },

  agentEnrolled: { code: 'T2000I', event: 'agent.enroll' },
  agentEnrollFailed: { code: 'T2000E', event: 'agent.enroll' },
  agentConnected: { code: 'T2001I', event: 'agent.connect' },
  agentConnectRefused: { code: 'T2001E', event: 'agent.connect' },
  agentDisconnected: { code: 'T2002I', event: 'agent.disconnect' },
  agentReplaced: { code: 'T2003I', event: 'agent.replace' },
  agentRevoked: { code: 'T2004I', event: 'agent.revoke' },
  agentsListed: { code: 'T2005I', event: 'agent.list' },
  agentViewed: { code: 'T2006I', event: 'agent.get' },

  execFinished: { code: 'T3000I', event: 'exec' },
  execFailed: { code: 'T3000E', event: 'exec' },
  execStarted: { code: 'T3001I', event: 'exec.start' },
  execInterrupted: { code: 'T3002E', event: 'exec.interrupted' },
  execBatch: { code: 'T3003I', event: 'exec.batch' },

  scriptPublished: { code: 'T3500I', event: 'script.publish' },
  scriptPublishRefused: { code: 'T3500E', event: 'script.publish' },
  scriptYanked: { code: 'T3501I', event: 'script.yank' },
  scriptDeprecated: { code: 'T3502I', event: 'script.deprecate' },
  publisherKeyAdded: { code: 'T3503I', event: 'publisher_key.add' },
  publisherKeyRemoved: { code: 'T3504I', event: 'publisher_key.remove' },
  scriptHidden: { code: 'T3505E', event: 'script.hidden' },
  scriptRefused: { code: 'T3506E', event: 'script.refuse' },
  scriptFetchedByAgent: { code: 'T3507I', event: 'script.agent_fetch' },
  scriptAgentFetchRefused: { code: 'T3507E', event: 'script.agent_fetch' },

  joinTokenCreated: { code: 'T4000I', event: 'join_token.create' },
  joinTokenRevoked: { code: 'T4001I', event: 'join_token.revoke' },
  joinTokensListed: { code: 'T4002I', event: 'join_token.list' },

  accountCreated: { code: 'T5000I', event: 'account.create' },
  accountsListed: { code: 'T5001I', event: 'account.list' },

  auditRead: { code: 'T6000I', event: 'audit.read' },

  ticketCreated: { code: 'T7000I', event: 'ticket.create' },
  ticketTaken: { code: 'T7001I', event: 'ticket.take' },
  ticketClosed: { code: 'T7002I', event: 'ticket.close' },
  ticketsListed: { code: 'T7003I', event: 'ticket.list' },
  chatMessage: { code: 'T7100I', event: 'chat.message' },

  consentPolicyChanged: { code: 'T8000I', event: 'consent.policy' },
  approvalRequested: { code: 'T8001I', event: 'approval.request' },
  approvalGranted: { code: 'T8002I', event: 'approval.grant' },
  approvalDenied: { code: 'T8002E', event: 'approval.deny' },
  approvalExpired: { code: 'T8003E', event: 'approval.expire' },
  approvalRefused: { code: 'T8004E', event: 'approval.refuse' },
  terminalStarted: { code: 'T8100I', event: 'terminal.start' },
  terminalEnded: { code: 'T8101I', event: 'terminal.end' },
  terminalInterrupted: { code: 'T8101E', event: 'terminal.interrupted' },
  terminalJoined: { code: 'T8102I', event: 'terminal.join' },
  terminalRefused: { code: 'T8103E', event: 'terminal.refuse' },
  terminalInputDropped: { code: 'T8104E', event: 'terminal.input_dropped' },
  recordingExported: { code: 'T8105I', event: 'recording.export' },
  recordingPlayed: { code: 'T8106I', event: 'recording.play' },
  // The live file socket (T829x): an observer's frames dropped, an observer joining.
  fileLiveInputDropped: { code: 'T8290E', event: 'files.live.input_dropped' },
  fileLiveJoined: { code: 'T8291I', event: 'files.live.join' },

  accessDenied: { code: 'T9000E', event: 'access.denied' },
} as const;

export type AuditKind = keyof typeof AUDIT;
export type AuditCode = (typeof AUDIT)[AuditKind]['code'];
