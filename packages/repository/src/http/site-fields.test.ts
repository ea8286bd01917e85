/** What the support site reads from the REST API beyond the basics: yanks in listings, owners. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  publishVia,
  publisher,
  startHarness,
  type Harness,
  type Publisher,
} from '../testing/endpoint.ts';

let h: Harness;
let alice: Publisher;
let bob: Publisher;

const enc = encodeURIComponent;

beforeAll(async () => {
  h = await startHarness();
  alice = await publisher(h, 'engineer');
  bob = await publisher(h, 'engineer');
  await publishVia(h, alice, { name: 'tools/clean', version: '1.0.0' });
  await publishVia(h, alice, {
    name: 'tools/clean',
    version: '1.1.0',
    owners: [alice.username, bob.username],
  });
  await publishVia(h, bob, { name: 'tools/clean', version: '2.0.0', owners: [bob.username] });
  await publishVia(h, alice, { name: 'tools/gone', version: '0.1.0' });
  for (const [name, version] of [
    ['tools/clean', '2.0.0'],
    ['tools/gone', '0.1.0'],
  ]) {
    const yanked = await h.api(
      'POST',
      `/api/v1/repository/packages/${enc(name)}/versions/${version}/yank`,
      { reason: 'broken' },
      name === 'tools/clean' ? bob.token : alice.token,
    );
    expect(yanked.status).toBe(200);
  }
}, 60_000);

afterAll(async () => {
  await h?.close();
});

describe('repository REST for the site', () => {
  it('rest - a listing says how many versions are yanked and whether the latest is', async () => {
    const listed = await h.api('GET', '/api/v1/repository/packages?q=tools', undefined, bob.token);
    expect(listed.body.packages).toMatchObject([
      { name: 'tools/clean', latest: '1.1.0', latestYanked: false, yankedVersions: 1 },
      { name: 'tools/gone', latest: '0.1.0', latestYanked: true, yankedVersions: 1 },
    ]);
  });

  it("rest - each version names its manifest's owners, so the ownership history reads in order", async () => {
    const versions = await h.api(
      'GET',
      `/api/v1/repository/packages/${enc('tools/clean')}/versions`,
      undefined,
      bob.token,
    );
    expect(
      versions.body.versions.map((v: any) => [v.version, v.publisher, v.owners.join(' ')]),
    ).toEqual([
      ['2.0.0', bob.username, bob.username],
      ['1.1.0', alice.username, `${alice.username} ${bob.username}`],
      ['1.0.0', alice.username, alice.username],
    ]);
  });
});
