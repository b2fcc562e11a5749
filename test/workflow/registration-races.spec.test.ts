// Races between a registration checked against the merge record and the other messages of the
// same snapshot workflow (issue 17). Each case holds the merge checks (the control activity the
// workflow awaits) so the messages interleave in one chosen order, on the time-skipping test
// server with the real workflow bundle: the order that the protocol simulation found at random is
// here every time.
import { ApplicationFailure } from '@temporalio/common';
import { WithStartWorkflowOperation } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorType } from '../../src/contract/errors.js';
import { dockerTaskQueue, snapshotWorkflowId } from '../../src/contract/names.js';
import {
  invalidateSignal,
  invalidateUpdate,
  linkPullRequestUpdate,
  mergedSignal,
  registerUpdate,
} from '../../src/contract/messages.js';
import type { ImageFacts, PullRequestRef, SnapshotState } from '../../src/contract/snapshot-types.js';
import { expectUpdateRefused } from './support/expect-failure.js';
import { imageIdOf } from './support/fake-docker-hosts.js';
import type { SnapshotHandle } from './support/snapshot-driver.js';
import { PROJECT, SnapshotDriver, newWorkItem } from './support/snapshot-driver.js';
import type { snapshotWorkflow } from '../../src/workflows/snapshot/workflow.js';
import { waitFor } from '../support/wait-for.js';
import type { SpecEnvironment } from './support/spec-environment.js';
import { startSpecEnvironment } from './support/spec-environment.js';
import { injectSpecContext } from './support/provided-context.js';

let spec: SpecEnvironment;
let driver: SnapshotDriver;

/**
 * A host whose Docker worker is this file's own: its inspection answers with what the engine held
 * when it looked, after the test lets it (`holdInspection`), and finds nothing once the image was
 * removed, as an engine would. The other activities are the shared scripted ones.
 */
const SLOW_HOST = 'slow-inspect-1';
let slowWorker: { shutdown(): void; running: Promise<void> } | undefined;
let inspectionGate: { asked: Gate; answer: Gate } | undefined;

beforeAll(async () => {
  spec = await startSpecEnvironment();
  driver = new SnapshotDriver(spec);
  const shared = spec.docker.activitiesFor(SLOW_HOST);
  const worker = await Worker.create({
    connection: spec.env.nativeConnection,
    namespace: spec.env.namespace ?? 'default',
    taskQueue: dockerTaskQueue(SLOW_HOST),
    activities: {
      ...shared,
      inspectSnapshotImage: async (input: Parameters<typeof shared.inspectSnapshotImage>[0]) => {
        const imageId = imageIdOf(input.image);
        if (spec.docker.storyOf(imageId).includes('removeSnapshotImage')) {
          throw ApplicationFailure.nonRetryable(
            `image ${input.image} does not exist on this host`,
            ErrorType.imageNotFound,
          );
        }
        const facts: ImageFacts = await shared.inspectSnapshotImage(input);
        const gate = inspectionGate;
        if (gate) {
          inspectionGate = undefined;
          gate.asked.pass();
          await gate.answer.reached();
        }
        return facts;
      },
    },
  });
  slowWorker = { shutdown: () => worker.shutdown(), running: worker.run() };
});

afterAll(async () => {
  slowWorker?.shutdown();
  await slowWorker?.running;
  await spec?.teardown();
});

/** The next inspection on SLOW_HOST looks at the engine, then waits until `answer` is passed. */
function holdInspection(): { asked: Gate; answer: Gate } {
  const gate = { asked: new Gate('the held inspection asked'), answer: new Gate('the inspection let go') };
  inspectionGate = gate;
  return gate;
}

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
    // Its cleanup, if it comes, waits: the state query then shows how it ended.
    const releaseCleanup = spec.docker.holdInvalidation(current);

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

    // Nothing current carries a merged pull request: the image the link amended ended, merged,
    // as did the refused registration's (their cleanups run side by side: either finishes last).
    const view = await driver.state(handle);
    releaseCleanup();
    expect(view.current).toBeNull();
    const ended = view.retiring.find((i) => i.imageId === current);
    expect(ended).toMatchObject({ endReason: 'merged' });
    expect(ended?.message).toContain(`${REPO}#3`);
    const result = await handle.result();
    expect(result.last).toMatchObject({ imageId: current, state: 'removed', endReason: 'merged' });
    for (const imageId of [current, refused]) {
      expect(spec.docker.storyOf(imageId)).toEqual([
        'inspectSnapshotImage',
        'invalidateSnapshot',
        'removeSnapshotImage',
      ]);
    }
  });
});

/**
 * Registers `image` linked to the merged `pr` and holds its merge check until `during` (a message
 * to the same workflow, sent once the check was asked) has answered; answers `during`'s outcome
 * once the registration was refused.
 */
async function duringRefusedRegistration<T>(
  handle: SnapshotHandle,
  image: string,
  pr: PullRequestRef,
  during: () => Promise<T>,
): Promise<T> {
  const checkAsked = new Gate("the registration's merge check asked");
  const answered = new Gate('the message during the check answered');
  spec.control.beforeMergeAnswer = async (asked) => {
    if (asked.number !== pr.number) return;
    checkAsked.pass();
    await answered.reached();
  };
  try {
    const registration = driver.register(handle, { image, pullRequest: pr });
    await checkAsked.reached();
    const outcome = await during().finally(() => answered.pass());
    await expectUpdateRefused(registration, {
      type: ErrorType.pullRequestMerged,
      message: `${pr.repository}#${pr.number} has already merged`,
    });
    return outcome;
  } finally {
    spec.control.beforeMergeAnswer = undefined;
  }
}

describe('a message naming no image, sent while a registration is checked, means the snapshot the work item keeps', () => {
  // A registration linked to a pull request sets the current image aside while its merge check
  // runs; meanwhile the image being checked is what the state shows current. A link or an
  // operator's invalidation names no image: it is meant for the work item's snapshot, which, once
  // the registration is refused, is the image set aside again.
  it('keeps a link made during the check on the image the refused registration gives back, and ends it at that merge', async () => {
    const item = workItem('link-during-check');
    const current = imageIdOf(item.image(1));
    const open: PullRequestRef = { repository: REPO, number: 7 };
    const merged: PullRequestRef = { repository: REPO, number: 6 };
    spec.control.recordMerge(merged);
    const { handle } = await driver.startWith(item.id, { image: item.image(1) });
    runs.push(handle);

    const linked: SnapshotState = await duringRefusedRegistration(handle, item.image(2), merged, () =>
      handle.executeUpdate(linkPullRequestUpdate, { args: [open] }),
    );
    expect(linked.pullRequest).toEqual(open);
    const view = await driver.state(handle);
    expect(view.current).toMatchObject({ imageId: current, state: 'active', pullRequest: open });

    await handle.signal(mergedSignal, {
      pullRequest: open,
      deliveryId: 'link-during-check-7',
      match: 'link',
    });
    const result = await handle.result();
    expect(result.last).toMatchObject({ imageId: current, state: 'removed', endReason: 'merged' });
  });

  it('ends the image the refused registration gives back when a link made during the check was to a merged pull request', async () => {
    const item = workItem('merged-link-during-check');
    const current = imageIdOf(item.image(1));
    const linkedMerged: PullRequestRef = { repository: REPO, number: 9 };
    const merged: PullRequestRef = { repository: REPO, number: 8 };
    spec.control.recordMerge(merged);
    spec.control.recordMerge(linkedMerged);
    const { handle } = await driver.startWith(item.id, { image: item.image(1) });
    runs.push(handle);
    const releaseCleanup = spec.docker.holdInvalidation(current);

    await duringRefusedRegistration(handle, item.image(2), merged, () =>
      expectUpdateRefused(handle.executeUpdate(linkPullRequestUpdate, { args: [linkedMerged] }), {
        type: ErrorType.pullRequestMerged,
        message: 'the snapshot ended and its image is being removed',
      }),
    );
    const view = await driver.state(handle);
    releaseCleanup();
    expect(view.current).toBeNull();
    expect(view.retiring.find((i) => i.imageId === current)).toMatchObject({ endReason: 'merged' });
    expect((await handle.result()).last).toMatchObject({ imageId: current, state: 'removed' });
  });

  it('ends the image the refused registration gives back, linked during the check, when that link is then found merged', async () => {
    const item = workItem('merged-link-after-refusal');
    const current = imageIdOf(item.image(1));
    const linkedMerged: PullRequestRef = { repository: REPO, number: 13 };
    const merged: PullRequestRef = { repository: REPO, number: 12 };
    spec.control.recordMerge(merged);
    spec.control.recordMerge(linkedMerged);
    const { handle } = await driver.startWith(item.id, { image: item.image(1) });
    runs.push(handle);
    const releaseCleanup = spec.docker.holdInvalidation(current);

    // The registration's check asked, then the link's; the registration is refused first, then
    // the link's check answers.
    const registrationAsked = new Gate("the registration's merge check asked");
    const linkAsked = new Gate("the link's merge check asked");
    const registrationAnswer = new Gate("the registration's merge check let go");
    const linkAnswer = new Gate("the link's merge check let go");
    spec.control.beforeMergeAnswer = async (pr) => {
      if (pr.number === merged.number) {
        registrationAsked.pass();
        await registrationAnswer.reached();
      } else if (pr.number === linkedMerged.number) {
        linkAsked.pass();
        await linkAnswer.reached();
      }
    };
    try {
      const registration = driver.register(handle, { image: item.image(2), pullRequest: merged });
      await registrationAsked.reached();
      const link = handle.executeUpdate(linkPullRequestUpdate, { args: [linkedMerged] });
      const linkRefused = expectUpdateRefused(link, {
        type: ErrorType.pullRequestMerged,
        message: `${REPO}#13 has already merged`,
      });
      await linkAsked.reached();
      registrationAnswer.pass();
      await expectUpdateRefused(registration, {
        type: ErrorType.pullRequestMerged,
        message: `${REPO}#12 has already merged`,
      });
      linkAnswer.pass();
      await linkRefused;
    } finally {
      spec.control.beforeMergeAnswer = undefined;
    }
    const view = await driver.state(handle);
    releaseCleanup();
    expect(view.current).toBeNull();
    expect(view.retiring.find((i) => i.imageId === current)).toMatchObject({ endReason: 'merged' });
    expect((await handle.result()).last).toMatchObject({ imageId: current, state: 'removed' });
  });

  it("ends the image the refused registration gives back when an operator's invalidation naming no image came during the check", async () => {
    const item = workItem('invalidate-during-check');
    const current = imageIdOf(item.image(1));
    const checked = imageIdOf(item.image(2));
    const merged: PullRequestRef = { repository: REPO, number: 10 };
    spec.control.recordMerge(merged);
    const { handle } = await driver.startWith(item.id, { image: item.image(1) });
    runs.push(handle);
    const releaseCleanup = spec.docker.holdInvalidation(current);

    const ended: SnapshotState = await duringRefusedRegistration(handle, item.image(2), merged, () =>
      handle.executeUpdate(invalidateUpdate, { args: [{ reason: 'spec: operator' }] }),
    );
    // The answer names the image the state showed current then: the one being checked.
    expect(ended).toMatchObject({ imageId: checked, state: 'invalidated' });
    const view = await driver.state(handle);
    releaseCleanup();
    expect(view.current).toBeNull();
    expect(view.retiring.find((i) => i.imageId === current)).toMatchObject({
      endReason: 'invalidated',
      message: 'spec: operator',
    });
    expect((await handle.result()).last).toMatchObject({ imageId: current, state: 'removed' });
  });
});

describe('a registration of an image whose cleanup ran while it was inspected', () => {
  // The simulation's "current image ... is not on sim-1": a registration of the current image (the
  // same one again) is inspected; meanwhile an ending meant for that image (here an invalidation; in
  // the simulation the merge check of a link) ends it, and its cleanup removes it from the disk and
  // finishes. The inspection's answer predates the removal: accepting it makes current an image
  // that is gone, which no ending will ever clean up (and the lookup offers it).
  it('does not make current an image removed while its registration was inspected', async () => {
    const item = workItem('inspect-cleanup');
    const imageId = imageIdOf(item.image(1));
    const { handle } = await driver.startWith(item.id, { image: item.image(1), host: SLOW_HOST });
    runs.push(handle);

    const held = holdInspection();
    const again = driver.register(handle, { image: item.image(1), host: SLOW_HOST });
    const answered = again.then(
      (result) => ({ result, error: undefined }),
      (error: unknown) => ({ result: undefined, error }),
    );
    await held.asked.reached();
    await handle.signal(invalidateSignal, { reason: 'spec: ends while inspected', imageId });
    await driver.until(
      handle,
      'the invalidated image removed and its cleanup finished',
      (v) => v.current === null && v.retiring.length === 0 && v.last?.state === 'removed',
    );
    held.answer.pass();
    await expectUpdateRefused(again, { type: ErrorType.imageNotFound, message: 'does not exist' });
    await answered;

    // Nothing current: the image is gone, and the workflow ends with it as its last.
    expect((await driver.state(handle)).current).toBeNull();
    const result = await handle.result();
    expect(result.last).toMatchObject({ imageId, state: 'removed', endReason: 'invalidated' });
    expect(spec.docker.storyOf(imageId)).toEqual([
      'inspectSnapshotImage',
      'inspectSnapshotImage',
      'invalidateSnapshot',
      'removeSnapshotImage',
    ]);
  });
});

describe('a registration and an ending of its image answered in one workflow task', () => {
  // The simulation's "current image ... is not on sim-1", as it happened (seed-3 counterexample,
  // replayed at HEAD 638a6ea with both fixes above): a registration of the current image again and a
  // link to a merged pull request; the inspection and the link's merge check were answered in the
  // same workflow task. The registration's checks ran on the inspection's answer, then the link's
  // check ended the image and started its removal, then the registration resumed and accepted
  // the image again (`created`): current, while its removal took it off the disk. Here the two
  // answers are made to land in one task by stopping the workflow worker while both complete.
  const QUEUE = 'races-one-task';

  function workflowWorker(): Promise<Worker> {
    return Worker.create({
      connection: spec.env.nativeConnection,
      namespace: spec.env.namespace ?? 'default',
      taskQueue: QUEUE,
      workflowBundle: { codePath: injectSpecContext().workflowBundlePath },
      // No sticky queue: the Java test server would keep sending the next task to the stopped
      // worker's; every task replays the history instead.
      maxCachedWorkflows: 0,
    });
  }

  async function completedActivities(handle: SnapshotHandle): Promise<number> {
    const history = await handle.fetchHistory();
    return (history.events ?? []).filter((e) => e.activityTaskCompletedEventAttributes).length;
  }

  it('refuses the registration, which must not make current an image that is being removed', async () => {
    const item = workItem('one-task');
    const imageId = imageIdOf(item.image(1));
    const linked: PullRequestRef = { repository: REPO, number: 11 };
    spec.control.recordMerge(linked);
    // The control activities (merge check, budget) of this queue, apart from its workflow worker.
    const control = await Worker.create({
      connection: spec.env.nativeConnection,
      namespace: spec.env.namespace ?? 'default',
      taskQueue: QUEUE,
      activities: spec.control.activities(),
    });
    const controlRunning = control.run();
    let first: Worker | undefined = await workflowWorker();
    let firstRunning: Promise<void> | undefined = first.run();
    let second: Worker | undefined;
    let secondRunning: Promise<void> | undefined;
    try {
      const workflowId = snapshotWorkflowId(PROJECT, item.id);
      await spec.client.workflow.executeUpdateWithStart(registerUpdate, {
        args: [{ image: item.image(1), host: SLOW_HOST }],
        startWorkflowOperation: new WithStartWorkflowOperation<typeof snapshotWorkflow>('snapshotWorkflow', {
          workflowId,
          taskQueue: QUEUE,
          args: [{ projectId: PROJECT, workItemId: item.id }],
          workflowIdConflictPolicy: 'USE_EXISTING',
        }),
      });
      const handle = driver.handle(item.id);
      runs.push(handle);

      const inspection = holdInspection();
      const checkAsked = new Gate("the link's merge check asked");
      const checkAnswer = new Gate("the link's merge check let go");
      spec.control.beforeMergeAnswer = async (pr) => {
        if (pr.number !== linked.number) return;
        checkAsked.pass();
        await checkAnswer.reached();
      };
      const again = driver.register(handle, { image: item.image(1), host: SLOW_HOST });
      const againSettled = again.then(
        () => undefined,
        () => undefined,
      );
      await inspection.asked.reached();
      const link = handle.executeUpdate(linkPullRequestUpdate, { args: [linked] });
      const linkSettled = link.then(
        () => undefined,
        () => undefined,
      );
      await checkAsked.reached();

      // No workflow worker while both answers come in: the next task carries both, in this order.
      first.shutdown();
      await firstRunning;
      first = undefined;
      firstRunning = undefined;
      const before = await completedActivities(handle);
      inspection.answer.pass();
      await waitFor(async () => (await completedActivities(handle)) === before + 1, {
        timeoutMs: 15_000,
        message: 'the inspection answered',
      });
      checkAnswer.pass();
      await waitFor(async () => (await completedActivities(handle)) === before + 2, {
        timeoutMs: 15_000,
        message: "the link's merge check answered",
      });
      second = await workflowWorker();
      secondRunning = second.run();

      await expectUpdateRefused(link, {
        type: ErrorType.pullRequestMerged,
        message: 'the snapshot ended and its image is being removed',
      });
      await expectUpdateRefused(again, { type: ErrorType.invalidRequest, message: 'is being removed' });
      await Promise.all([againSettled, linkSettled]);
      expect((await driver.state(handle)).current).toBeNull();
      const result = await handle.result();
      expect(result.last).toMatchObject({ imageId, state: 'removed', endReason: 'merged' });
    } finally {
      spec.control.beforeMergeAnswer = undefined;
      first?.shutdown();
      second?.shutdown();
      control.shutdown();
      await Promise.all([firstRunning, secondRunning, controlRunning]);
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
