/** What the playback page reads from outside: the `?t=` it starts at, and the player's markers. */
export interface CastMarker {
  /** Seconds from the start. */
  time: number;
  label: string;
}

/** `?t=SECONDS` as a start time; anything that is not a plain, non-negative number starts at 0. */
export function startAtParam(value: string | null): number {
  if (value === null || !/^\d+(\.\d+)?$/.test(value)) return 0;
  return Number(value);
}

/**
 * The markers in asciinema-player's `metadata` event: `[[seconds, label], …]` from the
 * endpoint's index. Entries that are not a time and a label are left out.
 */
export function markersOf(metadata: unknown): CastMarker[] {
  const markers = (metadata as { markers?: unknown } | null)?.markers;
  if (!Array.isArray(markers)) return [];
  return markers.flatMap((marker: unknown) => {
    if (!Array.isArray(marker)) return [];
    const [time, label] = marker as unknown[];
    if (typeof time !== 'number' || !Number.isFinite(time)) return [];
    return [{ time, label: typeof label === 'string' ? shortLabel(label) : '' }];
  });
}

/** The end marker says who and why, and the why often repeats the who: "ended by ann: ended by ann". */
function shortLabel(label: string): string {
  const twice = /^(.+): \1$/.exec(label);
  return twice ? twice[1] : label;
}
