// Races between a registration checked against the merge record and the other messages of the
// same snapshot workflow (issue 17). Each case holds the merge checks (the control activity the
// workflow awaits) so the messages interleave in one chosen order, on the time-skipping test
// server with the real workflow bundle: the order that the protocol simulation found at random is
// here every time.
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorType } from '../../src/contract/errors.js';
import { linkPullRequestUpdate } from '../../src/contract/messages.js';
import type { PullRequestRef } from '../../src/contract/snapshot-types.js';
import { expectUpdateRefused } from './support/expect-failure.js';
import { imageIdOf } from './support/fake-docker-hosts.js';
import type { SnapshotHandle } from './support/snapshot-driver.js';
import { SnapshotDriver, newWorkItem } from './support/snapshot-driver.js';
import type { SpecEnvironment } from './support/spec-environment.js';
import { startSpecEnvironment } from './support/spec-environment.js';
import { injectSpecContext } from './support/provided-context.js';

let spec: SpecEnvironment;
let driver: SnapshotDriver;

beforeAll(async () => {
  spec = await startSpecEnvironment();
  driver = new SnapshotDriver(spec);
});

afterAll(async () => {
  await spec?.teardown();
});

const REPO = 'acme/races';
/** A gate that is never opened fails the case instead of hanging it. */
const GATE_TIMEOUT_MS = 15_000;

/** A point in the race a merge check waits for; opened once, by the test. */
class Gate {
  private open: () => void = () => undefined;
  private readonly opened = new Promise<void>((resolve) => (this.open = resolve));

  constructor(private readonly what: string) {}

  pass(): void {
    this.open();
  }

  async reached(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`gate never opened: ${this.what}`)), GATE_TIMEOUT_MS);
    });
    try {
      await Promise.race([this.opened, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

function workItem(label: string): { id: string; image: (n: number) => string } {
  const id = newWorkItem(label);
  return { id, image: (n) => `races/${id}:job-${n}` };
}

/** Every run of this file, replayed at the end through the same bundle. */
const runs: SnapshotHandle[] = [];

describe('a link to a merged pull request, checked while a registration set the current image aside', () => {
  // The simulation's counterexample link-refused-while-aside-keeps-merged-link.json, in one order:
  // 1. the link amends the current image with #L (merged) and awaits #L's check;
  // 2. a registration linked to #R (merged) sets the current image aside and awaits #R's check;
  // 3. #L's check answers "merged": the link is refused while its image is aside;
  // 4. #R's check answers "merged": the registration is refused and the image set aside comes back.
  // The image carries #L, whose merge the workflow has heard: it must end, not stay current until
  // its TTL.
  it('ends the image the refused link amended, once the refused registration gives it back', async () => {
    const item = workItem('link-aside');
    const current = imageIdOf(item.image(1));
    const refused = imageIdOf(item.image(2));
    const linked: PullRequestRef = { repository: REPO, number: 3 };
    const registered: PullRequestRef = { repository: REPO, number: 2 };
    spec.control.recordMerge(linked);
    spec.control.recordMerge(registered);
    const { handle } = await driver.startWith(item.id, { image: item.image(1) });
    runs.push(handle);

    const linkCheckAsked = new Gate("the link's merge check asked");
    const registrationCheckAsked = new Gate("the registration's merge check asked");
    const linkAnswered = new Gate('the link answered');
    spec.control.beforeMergeAnswer = async (pr) => {
      if (pr.number === linked.number) {
        linkCheckAsked.pass();
        await registrationCheckAsked.reached();
      } else if (pr.number === registered.number) {
        registrationCheckAsked.pass();
        await linkAnswered.reached();
      }
    };
    try {
      const link = handle.executeUpdate(linkPullRequestUpdate, { args: [linked] });
      const linkRefused = expectUpdateRefused(link, {
        type: ErrorType.pullRequestMerged,
        message: `${REPO}#3 has already merged`,
      }).finally(() => linkAnswered.pass());
      await linkCheckAsked.reached();
      const registration = driver.register(handle, { image: item.image(2), pullRequest: registered });
      await linkRefused;
      await expectUpdateRefused(registration, {
        type: ErrorType.pullRequestMerged,
        message: `${REPO}#2 has already merged`,
      });
    } finally {
      spec.control.beforeMergeAnswer = undefined;
    }

    // Nothing current carries a merged pull request: the image the link amended ended, merged.
    const view = await driver.state(handle);
    expect(view.current).toBeNull();
    const result = await handle.result();
    expect(result.last).toMatchObject({ imageId: current, state: 'removed', endReason: 'merged' });
    expect(result.last?.message).toContain(`${REPO}#3`);
    for (const imageId of [current, refused]) {
      expect(spec.docker.storyOf(imageId)).toEqual([
        'inspectSnapshotImage',
        'invalidateSnapshot',
        'removeSnapshotImage',
      ]);
    }
  });
});

describe('the runs above replay', () => {
  it('replays every history of this file through the same workflow bundle', async () => {
    expect(runs.length).toBeGreaterThan(0);
    const { workflowBundlePath } = injectSpecContext();
    for (const handle of runs) {
      await Worker.runReplayHistory(
        { workflowBundle: { codePath: workflowBundlePath } },
        await handle.fetchHistory(),
        handle.workflowId,
      );
    }
  });
});
