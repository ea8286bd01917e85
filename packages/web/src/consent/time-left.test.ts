import { describe, expect, it } from 'vitest';
import { formatDurationMs, formatTimeLeft, secondsLeft } from './time-left.ts';

describe('consent time left', () => {
  const now = Date.parse('2026-01-01T12:00:00.000Z');

  it('counts whole seconds up, never below zero', () => {
    expect(secondsLeft('2026-01-01T12:05:00.000Z', now)).toBe(300);
    expect(secondsLeft('2026-01-01T12:00:00.200Z', now)).toBe(1);
    expect(secondsLeft('2026-01-01T11:59:00.000Z', now)).toBe(0);
    expect(secondsLeft('not a time', now)).toBe(0);
  });

  it('formats seconds, minutes and hours', () => {
    expect(formatTimeLeft(0)).toBe('expired');
    expect(formatTimeLeft(-5)).toBe('expired');
    expect(formatTimeLeft(42)).toBe('42 s left');
    expect(formatTimeLeft(245)).toBe('4 min 05 s left');
    expect(formatTimeLeft(3720)).toBe('1 h 02 min left');
  });

  it('formats durations', () => {
    expect(formatDurationMs(null)).toBe('—');
    expect(formatDurationMs(850)).toBe('850 ms');
    expect(formatDurationMs(125_000)).toBe('2 min 05 s');
    expect(formatDurationMs(3_725_000)).toBe('1 h 02 min');
  });
});
