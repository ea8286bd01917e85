/**
 * Every audit event's stable code. The UI, the CLI and queries use these, never the wording.
 *
 * Numbering: `T` + four digits + `I` (the action happened) or `E` (it was refused or failed).
 * The first digit is the area: 1 people and sign-in, 2 agents and their link, 3 commands,
 * 4 join tokens, 5 accounts, 9 access denied by visibility or role. Codes are never reused;
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

  joinTokenCreated: { code: 'T4000I', event: 'join_token.create' },
  joinTokenRevoked: { code: 'T4001I', event: 'join_token.revoke' },
  joinTokensListed: { code: 'T4002I', event: 'join_token.list' },

  accountCreated: { code: 'T5000I', event: 'account.create' },
  accountsListed: { code: 'T5001I', event: 'account.list' },

  auditRead: { code: 'T6000I', event: 'audit.read' },

  accessDenied: { code: 'T9000E', event: 'access.denied' },
} as const;

export type AuditKind = keyof typeof AUDIT;
export type AuditCode = (typeof AUDIT)[AuditKind]['code'];
