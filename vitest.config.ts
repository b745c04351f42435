import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Workspace packages from their TypeScript sources (their exports' "lanyard-source" condition);
  // processes the tests spawn (the CLI, the demo) run the compiled dist/ that globalSetup builds.
  // Not Vite's default 'module' condition: it is for bundlers, and some packages' 'module' builds
  // (@opentelemetry/api under prom-client) use extensionless imports that Node cannot load.
  ssr: { resolve: { conditions: ['lanyard-source', 'node', 'development'] } },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['./test/support/build-packages.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // expect.poll waits on browsers, IdPs and servers; Vitest's 1 s default is less than one cold
    // SAML login on a loaded 2-core runner (a CI run lost the login-CSRF test to it).
    expect: { poll: { timeout: 15_000 } },
    // Two cores: integration files start servers and browsers; keep them from starving each other.
    maxWorkers: 2,
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});
