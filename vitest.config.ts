import { defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Workspace packages from their TypeScript sources (their exports' "lanyard-source" condition);
  // processes the tests spawn (the CLI, the demo) run the compiled dist/ that globalSetup builds.
  ssr: { resolve: { conditions: ['lanyard-source', ...defaultServerConditions] } },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['./test/support/build-packages.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores: integration files start servers and browsers; keep them from starving each other.
    maxWorkers: 2,
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});
