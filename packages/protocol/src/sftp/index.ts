/** SFTP v3 as agent and endpoint speak it: the wire, a client, and streams over it. */
export * from './wire.ts';
export * from './client.ts';
export * from './streams.ts';
