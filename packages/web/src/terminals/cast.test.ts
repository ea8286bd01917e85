import { describe, expect, it } from 'vitest';
import { castMarkers } from './cast.ts';

describe('castMarkers', () => {
  it('lists the m events and skips output, the header and a torn last line', () => {
    const cast = [
      '{"version":2,"width":80,"height":24}',
      '[0.1,"m","approved: ann"]',
      '[0.5,"o","[1.0,\\"m\\",\\"fake\\"]"]',
      '[1.25,"m","joined: ann"]',
      '[2.0,"m","ended',
    ].join('\n');
    expect(castMarkers(cast)).toEqual([
      { time: 0.1, label: 'approved: ann' },
      { time: 1.25, label: 'joined: ann' },
    ]);
  });
});
