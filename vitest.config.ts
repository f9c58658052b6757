import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Integration suites start real servers and child processes on a 2-core machine.
    testTimeout: 30_000,
    hookTimeout: 30_000,
    projects: [
      { extends: true, test: { name: 'suite', include: ['test/**/*.test.ts'], exclude: ['test/fleet/fleet.test.ts'] } },
      // The fleet suite (8 real gateway processes) runs alone, after everything else: run beside
      // the other suites it would starve them, and they it.
      { extends: true, test: { name: 'fleet', include: ['test/fleet/fleet.test.ts'], sequence: { groupOrder: 1 } } },
    ],
  },
});
