/** Visibility as a matrix: every caller × every level, in code and in SQL; hidden means 404. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VISIBILITIES, type Visibility } from './manifest.ts';
import { ANONYMOUS, canSee, type Caller, type CallerRole } from './visibility.ts';
import {
  manifestOf,
  openFixture,
  storeBackends,
  type Fixture,
  type Person,
} from './testing/fixture.ts';

const Y = true;
const N = false;
/** Rows: who asks; columns: public, customers, staff, team, owners. Owners are tested apart. */
const MATRIX: Record<CallerRole, boolean[]> = {
  anonymous: [Y, N, N, N, N],
  agent: [Y, Y, N, N, N],
  customer: [Y, Y, N, N, N],
  engineer: [Y, Y, Y, N, N],
  manager: [Y, Y, Y, Y, N],
  admin: [Y, Y, Y, Y, Y],
};

function caller(role: CallerRole, username: string | null = `${role}-x`): Caller {
  if (role === 'anonymous') return ANONYMOUS;
  return {
    role,
    userId: username,
    username: role === 'agent' ? null : username,
    accountId: 'acct',
  };
}

describe('visibility matrix', () => {
  for (const [role, row] of Object.entries(MATRIX) as Array<[CallerRole, boolean[]]>) {
    it(`visibility - ${role} sees ${VISIBILITIES.filter((_, i) => row[i]).join(', ')}`, () => {
      for (const [i, visibility] of VISIBILITIES.entries()) {
        expect(canSee(caller(role), { visibility, owners: ['olga'] }), visibility).toBe(row[i]);
      }
    });
  }

  it('visibility - an owner sees every level, whatever their role, ignoring case', () => {
    for (const visibility of VISIBILITIES) {
      expect(canSee(caller('customer', 'Olga'), { visibility, owners: ['olga'] })).toBe(true);
    }
  });
});

describe.each(storeBackends())('visibility on $name', (backend) => {
  let f: Fixture;
  let olga: Person;
  const published: Record<Visibility, { tree: string; tag: string; blob: string }> = {} as never;

  beforeAll(async () => {
    f = await openFixture(backend);
    olga = await f.person('olga', 'customer', 'acct-a');
    for (const visibility of VISIBILITIES) {
      const pack = await f.pack(
        olga,
        manifestOf(`vis/${visibility}`, '1.0.0', {
          owners: ['olga'],
          visibility,
          tags: ['secretive'],
          description: `the ${visibility} tool`,
        }),
        { 'main.js': `secret ${visibility}` },
      );
      const result = await f.upload(olga, pack);
      const blob = [...pack.objects].find(
        ([, o]) => o.content.toString() === `secret ${visibility}`,
      )![0];
      published[visibility] = { tree: result.tree, tag: result.tag, blob };
    }
  });

  afterAll(async () => {
    await f.close();
  });

  for (const [role, row] of Object.entries(MATRIX) as Array<[CallerRole, boolean[]]>) {
    it(`visibility - ${role}: listing, search, lookup, resolve and objects agree with the matrix`, async () => {
      const who = caller(role);
      const seen = VISIBILITIES.filter((_, i) => row[i]).map((v) => `vis/${v}`);
      const listed = await f.repo.catalog.list(who);
      expect(listed.packages.map((p) => p.name)).toEqual([...seen].sort());
      const searched = await f.repo.catalog.list(who, {
        q: 'tool',
        tag: 'secretive',
        owner: 'olga',
      });
      expect(searched.packages.map((p) => p.name)).toEqual([...seen].sort());

      for (const [i, visibility] of VISIBILITIES.entries()) {
        const name = `vis/${visibility}`;
        const objects = published[visibility];
        const attempts = [
          f.repo.catalog.package(who, name),
          f.repo.catalog.versions(who, name),
          f.repo.catalog.version(who, name, '1.0.0'),
          f.repo.catalog.resolve(who, name, '^1'),
          f.repo.catalog.object(who, objects.blob),
          f.repo.catalog.object(who, objects.tree),
          f.repo.catalog.object(who, objects.tag),
          f.repo.catalog.fileAt(who, name, '1.0.0', 'main.js'),
        ];
        for (const attempt of await Promise.allSettled(attempts)) {
          if (row[i]) expect(attempt.status, `${role} ${visibility}`).toBe('fulfilled');
          else expect(attempt).toMatchObject({ status: 'rejected', reason: { code: 'not_found' } });
        }
      }
    });
  }

  it('visibility - a private package is 404 from another account, and the denial is audited', async () => {
    const outsider: Caller = {
      role: 'customer',
      userId: 'u-b',
      username: 'bert',
      accountId: 'acct-b',
    };
    const before = f.audits.length;
    await expect(f.repo.catalog.object(outsider, published.owners.blob)).rejects.toMatchObject({
      code: 'not_found',
      message: `no object ${published.owners.blob}`,
    });
    await expect(f.repo.catalog.resolve(outsider, 'vis/owners', '*')).rejects.toMatchObject({
      code: 'not_found',
      message: 'no package vis/owners',
    });
    const nowhere = 'f'.repeat(40);
    await expect(f.repo.catalog.object(outsider, nowhere)).rejects.toMatchObject({
      message: `no object ${nowhere}`,
    });
    const denials = f.audits.slice(before).filter((a) => a.kind === 'scriptHidden');
    expect(denials).toHaveLength(2);
  });
});
