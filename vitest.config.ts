import { defineConfig } from 'vitest/config';

// .ci/run sets PRIM_TEST_RESULTS to collect a JSON report it counts from.
const results = process.env.PRIM_TEST_RESULTS;

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Nodes, redis-servers and CLI processes are real; two cores run them.
    maxWorkers: 2,
    reporters: results ? ['default', ['json', { outputFile: results }]] : ['default'],
  },
});
