// `snapkeeper invalidate` names the image it read (issue 17): its signal is scoped to that image, so
// a snapshot registered between the command's read and its signal is not ended by it.
import { describe, expect, it } from 'vitest';
import { runInvalidate } from '../../src/cli/commands/invalidate.js';
import type { Runtime } from '../../src/cli/runtime.js';
import type {
  InvalidateSignal,
  SnapshotState,
  SnapshotWorkflowView,
} from '../../src/contract/snapshot-types.js';
import type { SnapshotService } from '../../src/service/snapshot-service.js';

const current = {
  projectId: 'p',
  workItemId: 'w',
  image: 'snap/p:w',
  imageId: `sha256:${'a'.repeat(64)}`,
  host: 'h1',
  state: 'active',
} as SnapshotState;

function runtime(sent: Array<[string, string, string, unknown]>): Runtime {
  const service = {
    view: async (): Promise<SnapshotWorkflowView> => ({ current, retiring: [], last: null }),
    invalidate: async (p: string, w: string, reason: string, scope?: Omit<InvalidateSignal, 'reason'>) => {
      sent.push([p, w, reason, scope]);
      return true;
    },
  } as unknown as SnapshotService;
  const sink = { write: () => true };
  return {
    config: () => {
      throw new Error('not needed');
    },
    env: () => ({}),
    session: () => Promise.reject(new Error('not needed')),
    service: async () => service,
    stdout: sink,
    stderr: sink,
    close: () => Promise.resolve(),
  };
}

describe('snapkeeper invalidate', () => {
  it('sends the invalidation scoped to the image it read', async () => {
    const sent: Array<[string, string, string, unknown]> = [];
    expect(await runInvalidate(runtime(sent), 'p', 'w', { reason: 'bad image', timeoutMs: 1000 })).toBe(0);
    expect(sent).toEqual([['p', 'w', 'bad image', { imageId: current.imageId }]]);
  });
});
