/**
 * Every audit event's stable code. The UI, the CLI and queries use these, never the wording.
 *
 * Numbering: `T` + four digits + `I` (the action happened) or `E` (it was refused or failed).
 * The first digit is the area: 1 people and sign-in, 2 agents and their link, 3 commands,
 * 4 join tokens, 5 accounts, 6 the audit log itself, 7 tickets and chat, 8 consent and
 * terminal sessions, 9 access denied by visibility or role. Within an area, the second digit
 * may name a feature: 35xx the script repository. Codes are never reused;
 * terminal sessions (83xx port forwards), 9 access denied by visibility or role. Codes are never reused;
 * terminal sessions, 9 access denied by visibility or role. Within 8: 82xx files (sessions
 * 820x, operations 821x–822x, each with its refusal as E). Codes are never reused;
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
  forwardOpened: { code: 'T8300I', event: 'forward.open' },
  forwardRefused: { code: 'T8300E', event: 'forward.refuse' },
  forwardEnded: { code: 'T8301I', event: 'forward.end' },
  forwardConnectionStarted: { code: 'T8310I', event: 'forward.connection.start' },
  forwardConnectionFailed: { code: 'T8310E', event: 'forward.connection.fail' },
  forwardConnectionEnded: { code: 'T8311I', event: 'forward.connection.end' },
  forwardConnectionInterrupted: { code: 'T8311E', event: 'forward.connection.interrupted' },
  fileSessionStarted: { code: 'T8200I', event: 'file.session.start' },
  fileSessionRefused: { code: 'T8200E', event: 'file.session.start' },
  fileSessionEnded: { code: 'T8201I', event: 'file.session.end' },
  fileWriteGranted: { code: 'T8202I', event: 'file.session.write' },
  fileWriteRefused: { code: 'T8202E', event: 'file.session.write' },
  fileInputDropped: { code: 'T8203E', event: 'file.input_dropped' },
  fileListed: { code: 'T8210I', event: 'file.list' },
  fileListFailed: { code: 'T8210E', event: 'file.list' },
  fileStat: { code: 'T8211I', event: 'file.stat' },
  fileStatFailed: { code: 'T8211E', event: 'file.stat' },
  fileViewed: { code: 'T8212I', event: 'file.view' },
  fileViewFailed: { code: 'T8212E', event: 'file.view' },
  fileDownloaded: { code: 'T8213I', event: 'file.download' },
  fileDownloadFailed: { code: 'T8213E', event: 'file.download' },
  fileDiffed: { code: 'T8214I', event: 'file.diff' },
  fileDiffFailed: { code: 'T8214E', event: 'file.diff' },
  fileSaved: { code: 'T8215I', event: 'file.save' },
  fileSaveFailed: { code: 'T8215E', event: 'file.save' },
  fileUploaded: { code: 'T8216I', event: 'file.upload' },
  fileUploadFailed: { code: 'T8216E', event: 'file.upload' },
  fileDeleted: { code: 'T8217I', event: 'file.delete' },
  fileDeleteFailed: { code: 'T8217E', event: 'file.delete' },
  fileFolderMade: { code: 'T8218I', event: 'file.mkdir' },
  fileFolderMakeFailed: { code: 'T8218E', event: 'file.mkdir' },
  fileRenamed: { code: 'T8219I', event: 'file.rename' },
  fileRenameFailed: { code: 'T8219E', event: 'file.rename' },
  fileModeChanged: { code: 'T8220I', event: 'file.chmod' },
  fileModeChangeFailed: { code: 'T8220E', event: 'file.chmod' },
  fileBlobRead: { code: 'T8221I', event: 'file.blob.read' },

  accessDenied: { code: 'T9000E', event: 'access.denied' },
} as const;

export type AuditKind = keyof typeof AUDIT;
export type AuditCode = (typeof AUDIT)[AuditKind]['code'];
