/** SFTP through a real agent link: the endpoint's hub opens the subsystem on a real agent. */
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpenFlag, SftpClosedError } from '@tether/protocol/sftp';
import { startHarness, type Harness } from '../testing/harness.ts';

let h: Harness;
let agentId: string;
let agent: Awaited<ReturnType<Harness['agent']>>;
const b64 = (path: string) => Buffer.from(path).toString('base64');

beforeAll(async () => {
  h = await startHarness();
  await h.account('Acme');
  agent = await h.agent('Acme', 'web-1');
  agentId = agent.agentId;
}, 60_000);
afterAll(() => h.close());

describe('sftp over the agent link', () => {
  it('link sftp - the hub opens a file channel that lists and reads under the policy', async () => {
    const root = mkdtempSync(join(h.dir, 'files-'));
    writeFileSync(join(root, 'hello.txt'), 'hello');
    const sftp = await h.endpoint.services.hub.sftp(agentId);
    await sftp.policy({ allow: [b64(root)], deny: [], readOnly: true, sessionId: 's1' });
    const dir = await sftp.opendir(root);
    const names = (await sftp.readdir(dir))!.map((e) => e.filename.toString());
    expect(names).toEqual(['hello.txt']);
    const file = await sftp.open(join(root, 'hello.txt'), OpenFlag.READ);
    expect((await sftp.read(file, 0, 100))!.toString()).toBe('hello');
    sftp.end();
  });

  it('link sftp - when the link drops mid-write, the half-written temporary file is removed', async () => {
    const root = mkdtempSync(join(h.dir, 'files-'));
    writeFileSync(join(root, 'app.conf'), 'old');
    const sftp = await h.endpoint.services.hub.sftp(agentId);
    await sftp.policy({ allow: [b64(root)], deny: [], readOnly: false, sessionId: 's2' });
    const temp = join(root, '.app.conf.tether-00112233.tmp');
    const handle = await sftp.open(temp, OpenFlag.WRITE | OpenFlag.CREAT | OpenFlag.EXCL);
    await sftp.write(handle, 0, Buffer.alloc(64 * 1024, 1));
    expect(readdirSync(root).sort()).toEqual(['.app.conf.tether-00112233.tmp', 'app.conf']);

    const closed = new Promise<Error | null>((resolve) => sftp.once('close', resolve));
    agent.link.stop();
    expect(await closed).toBeInstanceOf(SftpClosedError);
    await expect.poll(() => readdirSync(root)).toEqual(['app.conf']);
  });
});
