/** Parses human durations such as `500ms`, `30s`, `2m`, `1h` or `1h30m` into milliseconds. */
import { UsageError } from './errors.ts';

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/y;

/** Milliseconds in `text`; throws a UsageError naming the input when it is not a duration. */
export function parseDuration(text: string): number {
  const input = text.trim();
  let total = 0;
  let at = 0;

  while (at < input.length) {
    PART.lastIndex = at;
    const match = PART.exec(input);
    if (!match) throw invalid(text);
    total += Number(match[1]) * UNIT_MS[match[2]];
    at = PART.lastIndex;
  }

  if (input.length === 0) throw invalid(text);
  if (total <= 0) throw new UsageError(`duration "${text}" must be more than zero`);
  return Math.round(total);
}

function invalid(text: string): UsageError {
  return new UsageError(
    `invalid duration "${text}": use a number and a unit, e.g. 500ms, 30s, 2m, 1h, 1d`,
  );
}
