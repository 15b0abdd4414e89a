import { defineConfig } from 'vitest/config';

const jsonReport = process.env['GRADHOOKS_TEST_JSON'];

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts', 'examples/*/test/**/*.test.ts'],
    setupFiles: ['./test/setup/backend.ts'],
    // Each test file gets its own process, so one file's tfjs engine state cannot leak into another.
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: jsonReport === undefined ? ['default'] : ['default', 'json'],
    ...(jsonReport === undefined ? {} : { outputFile: { json: jsonReport } }),
  },
});
