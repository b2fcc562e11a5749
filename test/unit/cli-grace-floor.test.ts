// `snapkeeper reconcile --grace` refuses a grace below the floor before it reaches Temporal
// (issue 17: `--grace 0s` reaped commits before they were registered); a dry run may ask any grace.
import { describe, expect, it } from 'vitest';
import { runReconcile } from '../../src/cli/commands/reconcile.js';
import type { Runtime } from '../../src/cli/runtime.js';
import { UsageError } from '../../src/cli/runtime.js';
import { loadConfig } from '../../src/config/config.js';

class NoServer extends Error {}

function runtime(env: NodeJS.ProcessEnv = {}): Runtime {
  const config = loadConfig(env);
  const sink = { write: () => true };
  return {
    config: () => config,
    env: () => env,
    session: () => Promise.reject(new NoServer('connected to Temporal')),
    service: () => Promise.reject(new NoServer('connected to Temporal')),
    stdout: sink,
    stderr: sink,
    close: () => Promise.resolve(),
  };
}

describe('reconcile --grace floor', () => {
  it.each(['0s', '1s', '29s'])(
    'refuses --grace %s with a usage error naming the flag and the floor',
    async (grace) => {
      const err = await runReconcile(runtime(), { grace }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UsageError);
      expect((err as Error).message).toMatch(/^--grace: .* is below the floor of 30s/);
    },
  );

  it('passes the floor on to Temporal (here: no server) at 30s, and any grace in a dry run', async () => {
    await expect(runReconcile(runtime(), { grace: '30s' })).rejects.toBeInstanceOf(NoServer);
    await expect(runReconcile(runtime(), { grace: '0s', dryRun: true })).rejects.toBeInstanceOf(NoServer);
  });

  it('SNAPKEEPER_MIN_ORPHAN_GRACE lowers the floor of the flag too', async () => {
    const rt = runtime({ SNAPKEEPER_MIN_ORPHAN_GRACE: '1s' });
    await expect(runReconcile(rt, { grace: '1s' })).rejects.toBeInstanceOf(NoServer);
  });
});
