/** File channels relayed over the bus from the process holding the agent to the one asking. */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TetherError } from '@tether/protocol';
import { OpenFlag, sftpReadStream, sftpWriteFrom } from '@tether/protocol/sftp';
import { startHarness, type Harness } from '../testing/harness.ts';
import { remoteSftp } from './remote-sftp.ts';

let h: Harness;
let agentId: string;
const b64 = (path: string) => Buffer.from(path).toString('base64');
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

beforeAll(async () => {
  h = await startHarness();
  await h.account('Acme');
  agentId = (await h.agent('Acme', 'web-1')).agentId;
}, 60_000);
afterAll(() => h.close());

it('relay - a file channel on another node lists, writes and reads 10 MB intact', async () => {
  const { bus, nodeId } = h.endpoint.services;
  const root = mkdtempSync(join(h.dir, 'relay-'));
  writeFileSync(join(root, 'a.txt'), 'a');
  const sftp = await remoteSftp(bus, nodeId, { channelId: randomUUID(), agentId });
  await sftp.policy({ allow: [b64(root)], deny: [], readOnly: false, sessionId: 'r1' });
  const dir = await sftp.opendir(root);
  expect((await sftp.readdir(dir))!.map((e) => e.filename.toString())).toEqual(['a.txt']);
  await sftp.close(dir);

  const data = randomBytes(10 * 1024 * 1024);
  const out = await sftp.open(join(root, 'big.bin'), OpenFlag.WRITE | OpenFlag.CREAT);
  await sftpWriteFrom(sftp, out, Readable.from([data]));
  await sftp.close(out);
  expect(sha256(readFileSync(join(root, 'big.bin')))).toBe(sha256(data));
  const input = await sftp.open(join(root, 'big.bin'), OpenFlag.READ);
  const hash = createHash('sha256');
  for await (const chunk of sftpReadStream(sftp, input)) hash.update(chunk as Buffer);
  expect(hash.digest('hex')).toBe(sha256(data));

  // Closing on the caller closes the agent's channel: its unfinished temporary files go.
  const temp = await sftp.open(
    join(root, '.x.tether-0011223344.tmp'),
    OpenFlag.WRITE | OpenFlag.CREAT | OpenFlag.EXCL,
  );
  await sftp.write(temp, 0, Buffer.from('half'));
  sftp.end();
  await expect.poll(() => readdirSync(root).sort()).toEqual(['a.txt', 'big.bin']);
});

it('relay - an agent the owner does not hold is refused as offline', async () => {
  const { bus, nodeId } = h.endpoint.services;
  const error = await remoteSftp(bus, nodeId, {
    channelId: randomUUID(),
    agentId: randomUUID(),
  }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(TetherError);
  expect((error as TetherError).code).toBe('agent_offline');
});
