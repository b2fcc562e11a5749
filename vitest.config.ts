import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Tests run the client workspace's sources, as tsconfig.json's `paths` does for tsc and tsx; the
  // packed tarball is tested as installed by test/integration/client-package.test.ts.
  resolve: {
    alias: {
      '@snapkeeper/client': fileURLToPath(new URL('./packages/client/src/index.ts', import.meta.url)),
    },
  },
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          // Forks, not threads: the Temporal worker's native bridge and child processes behave
          // best with a process per file.
          pool: 'forks',
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
      {
        extends: true,
        test: {
          // The snapshot workflow's specification: the real workflow code on Temporal's
          // time-skipping test server (a day of TTL passes in milliseconds), scripted activities.
          // Also the protocol simulation (test/workflow/simulation/, issue 17): its kept
          // counterexamples, and with SNAPKEEPER_SIM=1 10,000 random actions, on a dev server of its
          // own (docs/reliability.md).
          name: 'workflow',
          include: ['test/workflow/**/*.test.ts'],
          globalSetup: ['test/workflow/support/global-setup.ts'],
          pool: 'forks',
          // Off unless the simulation asks for it (SNAPKEEPER_LEAN_SANDBOX): the SDK's deadlock
          // detector, a watchdog thread per call into the workflow sandbox (the file says why).
          execArgv: [
            '--require',
            fileURLToPath(new URL('./test/workflow/simulation/lean-sandbox.cjs', import.meta.url)),
          ],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
