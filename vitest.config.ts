import { defineConfig } from 'vitest/config';

// Test tiers (see docs/testing.md): unit tests are pure and colocated with the code; component
// tests use loopback servers and the built CLI; integration tests need root, netns and nftables
// and run one file at a time.
export default defineConfig({
  test: {
    // Two workers on the 2-core CI machine (the default is cores - 1): the integration files run
    // one at a time in their own fork while unit and component files use the other worker.
    maxWorkers: 2,
    projects: [
      {
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'component',
          include: ['test/component/**/*.test.ts'],
          setupFiles: ['src/adapters/aws/quiet-sdk-warning.ts'],
          testTimeout: 60_000,
        },
      },
      {
        // Root only: real namespaces, veth, nftables. One file at a time; each test has its own
        // home and kernel-name prefix, and removes what it created.
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          setupFiles: ['src/adapters/aws/quiet-sdk-warning.ts'],
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
          testTimeout: 180_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
