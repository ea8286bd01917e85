/** The output batch: echoes leave in their own turn of the event loop, floods in fewer pieces. */
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { expect, it } from 'vitest';
import { OutputBatch } from './output-batch.ts';

it('output batch - what arrives in one turn leaves together in that turn, with no timer', async () => {
  const pieces: string[] = [];
  const batch = new OutputBatch((piece) => pieces.push(piece.toString()));
  batch.push(Buffer.from('e'));
  batch.push(Buffer.from('cho'));
  expect(pieces).toEqual([]);
  await nextTurn();
  expect(pieces).toEqual(['echo']);
  batch.push(Buffer.from('x'));
  await nextTurn();
  expect(pieces).toEqual(['echo', 'x']);
});

it('output batch - a flood is gathered for up to 8 ms; flush sends at once, in order', async () => {
  const pieces: Buffer[] = [];
  const batch = new OutputBatch((piece) => pieces.push(piece));
  const read = Buffer.alloc(4096, 'y');
  // 80 KB within one turn: over the flood rate (64 KB in 10 ms).
  for (let i = 0; i < 20; i++) batch.push(read);
  await nextTurn();
  expect(pieces).toHaveLength(1);
  for (let i = 0; i < 10; i++) batch.push(read);
  await nextTurn();
  expect(pieces).toHaveLength(1);
  await sleep(20);
  expect(pieces).toHaveLength(2);
  expect(pieces[1].length).toBe(10 * 4096);

  batch.push(Buffer.from('tail'));
  batch.flush();
  expect(pieces.at(-1)!.toString()).toBe('tail');
  const total = pieces.reduce((sum, piece) => sum + piece.length, 0);
  expect(total).toBe(30 * 4096 + 4);
});

it('output batch - half a megabyte goes at once, flood or not', () => {
  const pieces: Buffer[] = [];
  const batch = new OutputBatch((piece) => pieces.push(piece));
  batch.push(Buffer.alloc(300 * 1024));
  expect(pieces).toHaveLength(0);
  batch.push(Buffer.alloc(300 * 1024));
  expect(pieces).toHaveLength(1);
  expect(pieces[0].length).toBe(600 * 1024);
});
