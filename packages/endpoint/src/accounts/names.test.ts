/** Names people read cannot carry escapes, reorder text, pose as ids, or differ only in case. */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { generateEd25519 } from '@tether/protocol/ssh-keys';
import { startHarness, type Harness } from '../testing/harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
  await h.account('Acme');
});
afterAll(() => h.close());

const cases = [
  { name: 'right-to-left override', value: 'evil\u202etxt.exe' },
  { name: 'terminal escape', value: 'box\u001b[31m' },
  { name: 'newline', value: 'two\nlines' },
  { name: 'C1 control', value: 'x\u009by' },
];

it.each(cases)('names - an account name with a $name is refused', async ({ value }) => {
  const answer = await h.api('POST', '/api/v1/accounts', { name: value });
  expect(answer.status).toBe(400);
  expect(answer.body.error.message).toContain('control or text-direction');
});

it.each(cases)(
  'names - an agent enrolling with a $name in its name is refused',
  async ({ value }) => {
    const token = await h.joinToken('Acme');
    const body = {
      token,
      publicKey: generateEd25519().publicKey,
      name: value,
      os: 'linux',
      arch: 'x64',
      version: '1',
    };
    expect((await h.api('POST', '/api/v1/enroll', body, '')).status).toBe(400);
  },
);

it('names - an account may not be named like an id', async () => {
  const answer = await h.api('POST', '/api/v1/accounts', {
    name: '0b1c2d3e-0000-4000-8000-000000000000',
  });
  expect(answer.body.error.message).toContain('must not look like an id');
});

it('names - usernames that differ only in case are one username', async () => {
  await h.api('POST', '/api/v1/users', { username: 'casey', role: 'engineer' });
  const clash = await h.api('POST', '/api/v1/users', { username: 'Casey', role: 'engineer' });
  expect(clash.status).toBe(409);
});
