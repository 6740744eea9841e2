import { defineConfig } from 'vitest/config';

// Unit tests (test/unit) are pure and fast; integration tests (test/integration) start real
// PostgreSQL databases, Prometheus, Alertmanager and child `quench serve` processes.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores: more workers only make PGlite and the child processes fight for CPU.
    maxWorkers: 2,
    reporters: ['default', 'json'],
    outputFile: { json: '.vitest-report.json' },
  },
});
