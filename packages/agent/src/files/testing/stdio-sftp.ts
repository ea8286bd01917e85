/**
 * The agent's SFTP server on stdin/stdout, confined to the folder given as the argument:
 * `sftp -D "node bin/run-ts.mjs <this file> /some/folder"` drives it with OpenSSH's client.
 */
import { Duplex } from 'node:stream';
import pino from 'pino';
import { PathPolicy } from '../path-policy.ts';
import { serveSftp } from '../sftp-server.ts';

const root = process.argv[2];
if (!root) {
  process.stderr.write('usage: stdio-sftp.ts FOLDER\n');
  process.exit(64);
}
const policy = await PathPolicy.parse(
  JSON.stringify({
    allow: [Buffer.from(root).toString('base64')],
    deny: [],
    readOnly: false,
    sessionId: 'stdio',
  }),
);
const channel = Duplex.from({ readable: process.stdin, writable: process.stdout });
channel.on('end', () => process.exit(0));
serveSftp(channel, { log: pino({ level: 'silent' }), policy });
