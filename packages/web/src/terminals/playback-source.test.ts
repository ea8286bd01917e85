import { describe, expect, it } from 'vitest';
import { markersOf, startAtParam } from './playback-source.ts';

describe('playback source', () => {
  it('playback - ?t= starts at a plain number of seconds, and at 0 for anything else', () => {
    expect(startAtParam('3300')).toBe(3300);
    expect(startAtParam('12.5')).toBe(12.5);
    for (const bad of [null, '', '-5', 'abc', '1e3', 'Infinity', '3300s', ' 12'])
      expect(startAtParam(bad), String(bad)).toBe(0);
  });

  it('playback - markers come from the player metadata, and malformed entries are left out', () => {
    const metadata = {
      duration: 9,
      markers: [
        [0.1, 'approved by ann'],
        [1.25, 7],
        ['2', 'bad time'],
        'junk',
        [Number.NaN, 'x'],
        [3, 'ended by ann: ended by ann'],
        [4, 'ended by ann: the engineer disconnected'],
      ],
    };
    expect(markersOf(metadata)).toEqual([
      { time: 0.1, label: 'approved by ann' },
      { time: 1.25, label: '' },
      { time: 3, label: 'ended by ann' },
      { time: 4, label: 'ended by ann: the engineer disconnected' },
    ]);
    expect(markersOf(null)).toEqual([]);
    expect(markersOf({ markers: 'no' })).toEqual([]);
  });
});
