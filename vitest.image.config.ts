import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

// The production image, built and run (test/image): apart from `npm test`, since building the
// image takes minutes; .ci/run runs it once, against the Temporal cluster on PostgreSQL:
//   SNAPKEEPER_TEST_TEMPORAL=cluster npx vitest run --config vitest.image.config.ts
// Without the variable it runs against the dev server. The same harness as the integration project
// (a private Docker engine, a Temporal server), so nothing touches the machine's own engine.
export default defineConfig({
  ...(base.resolve ? { resolve: base.resolve } : {}),
  test: {
    name: 'image',
    include: ['test/image/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    testTimeout: 300_000,
    // The image build: about 3 minutes on the 2-core machine when idle.
    hookTimeout: 900_000,
  },
});
