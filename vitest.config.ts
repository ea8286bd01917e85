/** One vitest run for every package; tests live beside their code. */
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: [
      'packages/*/src/**/*.test.ts',
      'scripts/**/*.test.ts',
      // The site in a real browser (Debian's chromium) against a real endpoint and agent.
      'packages/web/e2e/**/*.e2e.test.ts',
    ],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two cores here: more workers than that only make the timing-sensitive link tests flaky.
    maxWorkers: 2,
    teardownTimeout: 10_000,
    // expect.poll waits 1 s by default; a browser on a loaded 2-core machine needs longer.
    expect: { poll: { timeout: 15_000, interval: 100 } },
    reporters: ['default', './scripts/summary-reporter.ts'],
  },
});
