import { defineConfig } from 'vitest/config';

// Three suites: pure units, everything that touches the store (run again on PostgreSQL by
// `npm run test:pg`), and interop tests that drive real external programs.
const shared = { testTimeout: 60_000, hookTimeout: 120_000 };

export default defineConfig({
  test: {
    projects: [
      { test: { ...shared, name: 'unit', include: ['test/{lib,crypto,card,sdk,config,web}/**/*.test.ts'] } },
      {
        test: {
          ...shared,
          name: 'store',
          include: ['test/{platform,servers,cli,simulator,e2e,scripts}/**/*.test.ts', 'test/*.test.ts'],
        },
      },
      { test: { ...shared, name: 'interop', include: ['test/interop/**/*.test.ts'] } },
    ],
  },
});
