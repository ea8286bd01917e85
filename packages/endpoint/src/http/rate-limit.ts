/** Fixed-window counters for routes anyone can call: sign-in, enrollment, agent connects. */
import { TetherError } from '@tether/protocol';

/** Bounds memory under a flood of distinct keys; the oldest windows go first. */
const MAX_KEYS = 10_000;

/**
 * Counts per key and process. Several endpoint processes each keep their own counts, so a
 * limit behind N processes is up to N times the number; that still ends brute force.
 */
export class RateLimiter {
  private readonly windows = new Map<string, { start: number; count: number }>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly what: string,
  ) {}

  /** Throws rate_limited when `key` has used up its window; counts nothing. */
  check(key: string, now = Date.now()): void {
    const window = this.current(key, now);
    if (window && window.count >= this.limit) {
      const waitS = Math.ceil((window.start + this.windowMs - now) / 1000);
      throw new TetherError('rate_limited', `too many ${this.what}; try again in ${waitS} s`);
    }
  }

  count(key: string, now = Date.now()): void {
    let window = this.current(key, now);
    if (!window) {
      window = { start: now, count: 0 };
      this.windows.set(key, window);
      this.prune(now);
    }
    window.count += 1;
  }

  /** check, then count: for routes where every attempt counts. */
  hit(key: string, now = Date.now()): void {
    this.check(key, now);
    this.count(key, now);
  }

  private current(key: string, now: number) {
    const window = this.windows.get(key);
    if (window && now - window.start < this.windowMs) return window;
    this.windows.delete(key);
    return undefined;
  }

  private prune(now: number): void {
    for (const [key, window] of this.windows) {
      if (this.windows.size <= MAX_KEYS && now - window.start < this.windowMs) break;
      this.windows.delete(key);
    }
  }
}
