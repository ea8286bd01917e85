/** Shared by agent, endpoint, CLI and site: messages, codecs, error shapes and audit codes. */
export * from './errors.ts';
export * from './audit-codes.ts';
export * from './roles.ts';
export * from './exec.ts';
export * from './agent-wire.ts';
export * from './live.ts';
export * from './install.ts';
export * from './names.ts';
export * from './terminal.ts';
export * from './file-live.ts';
export * from './agents.ts';
export * from './forward.ts';
export * from './files.ts';
