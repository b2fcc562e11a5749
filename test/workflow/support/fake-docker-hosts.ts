// Scripted stand-ins for the Docker activities of the snapshot workflow (one set per host queue):
// plain objects with the real activities' signatures that record every call and answer as a test
// tells them to. Unit-level fakes: the real activities are proven against a real engine elsewhere.
import { createHash } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { BudgetHostActivities } from '../../../src/activities/budget-host-activities.js';
import type {
  DockerActivities,
  InvalidateOutcome,
  RemovalBlock,
  RemoveSnapshotImageResult,
} from '../../../src/activities/docker-activities.js';
import { ErrorType } from '../../../src/contract/errors.js';
import type { ImageFacts } from '../../../src/contract/snapshot-types.js';
import type { BudgetDecision, BudgetLimits, DiskUsageFacts } from '../../../src/contract/budget-types.js';

export type SnapshotDockerActivities = Pick<
  DockerActivities,
  'inspectSnapshotImage' | 'invalidateSnapshot' | 'removeSnapshotImage' | 'retireSnapshotImage'
> &
  Pick<BudgetHostActivities, 'budgetFacts' | 'recordBudgetDecision'>;

/** The steps a story is told in: the one-hop cleanup activity records its two steps. */
export type DockerActivityName = 'inspectSnapshotImage' | 'invalidateSnapshot' | 'removeSnapshotImage';

export interface DockerActivityCall {
  activity: DockerActivityName;
  /** The host whose queue ran it. */
  host: string;
  /** The image the call is about (for inspect: the id the reference names). */
  imageId: string;
  workflowId: string;
  runId: string;
  /** Server time when this attempt was scheduled: skipped time, in a time-skipping environment. */
  scheduledAtMs: number;
  attempt: number;
}

/** How a removal attempt answers: an outcome of the real activity, or a permanent refusal. */
export type RemoveAnswer = RemoveSnapshotImageResult | { refuse: string };

export type InvalidateAnswer = InvalidateOutcome | RemovalBlock;

/** The id an engine would give the image a reference names; stable, so a test can compute it. */
export function imageIdOf(reference: string): string {
  return `sha256:${createHash('sha256').update(reference).digest('hex')}`;
}

export const IMAGE_SIZE_BYTES = 150_000_000;

export class FakeDockerHosts {
  readonly calls: DockerActivityCall[] = [];
  private readonly removeAnswers = new Map<string, RemoveAnswer[]>();
  private readonly invalidateAnswers = new Map<string, InvalidateAnswer[]>();
  private readonly held = new Map<string, Promise<void>>();
  private readonly lost = new Map<string, Promise<void>>();
  /** References that registration refuses as not managed by the work item. */
  private readonly unmanaged = new Set<string>();
  /** What each host's budget is configured with (its Docker worker's settings); no disk figures. */
  readonly budgetLimits = new Map<string, BudgetLimits>();
  /** The disk each host's budget measures; none (watermarks off) unless a test sets one. */
  readonly diskUsage = new Map<string, DiskUsageFacts>();
  /** Budget decisions the hosts were told to record (those that evicted, and every check). */
  readonly budgetDecisions: { host: string; decision: BudgetDecision }[] = [];

  /** The next removal attempts of this image answer these, in order; afterwards `removed`. */
  answerRemovals(imageId: string, ...answers: RemoveAnswer[]): void {
    this.removeAnswers.set(imageId, [...(this.removeAnswers.get(imageId) ?? []), ...answers]);
  }

  /** The next invalidation attempts of this image answer these, in order; afterwards `untagged`. */
  answerInvalidations(imageId: string, ...answers: InvalidateAnswer[]): void {
    this.invalidateAnswers.set(imageId, [...(this.invalidateAnswers.get(imageId) ?? []), ...answers]);
  }

  /**
   * The next invalidation of this image does not answer until the returned function is called:
   * a host whose Docker worker went silent in the middle of a cleanup step.
   */
  holdInvalidation(imageId: string): () => void {
    let release = () => undefined as void;
    this.held.set(imageId, new Promise<void>((resolve) => (release = resolve)));
    return () => {
      this.held.delete(imageId);
      release();
    };
  }

  /**
   * The next invalidation attempt of this image is lost: it neither answers nor heartbeats until
   * the returned function is called (its answer then comes too late to count). Later attempts
   * answer as usual.
   */
  loseNextInvalidation(imageId: string): () => void {
    let release = () => undefined as void;
    this.lost.set(imageId, new Promise<void>((resolve) => (release = resolve)));
    return () => release();
  }

  /** Registration of this reference finds an image without the work item's managed labels. */
  markUnmanaged(reference: string): void {
    this.unmanaged.add(reference);
  }

  /** The calls about one image, in the order they were made. */
  callsFor(imageId: string): DockerActivityCall[] {
    return this.calls.filter((c) => c.imageId === imageId);
  }

  /** The activities called about one image, in order: reads well in an expectation. */
  storyOf(imageId: string): string[] {
    return this.callsFor(imageId).map((c) => c.activity);
  }

  activitiesFor(host: string): SnapshotDockerActivities {
    const record = (activity: DockerActivityName, imageId: string) => {
      const info = Context.current().info;
      this.calls.push({
        activity,
        host,
        imageId,
        workflowId: info.workflowExecution?.workflowId ?? '',
        runId: info.workflowExecution?.runId ?? '',
        scheduledAtMs: info.currentAttemptScheduledTimestampMs,
        attempt: info.attempt,
      });
    };
    const invalidate = async (imageId: string): Promise<InvalidateAnswer> => {
      record('invalidateSnapshot', imageId);
      const lost = this.lost.get(imageId);
      if (lost) {
        this.lost.delete(imageId);
        await lost;
      }
      await this.held.get(imageId);
      return this.invalidateAnswers.get(imageId)?.shift() ?? 'untagged';
    };
    const remove = async (imageId: string): Promise<RemoveSnapshotImageResult> => {
      record('removeSnapshotImage', imageId);
      const answer = this.removeAnswers.get(imageId)?.shift() ?? { outcome: 'removed', holders: [] };
      if ('refuse' in answer) throw ApplicationFailure.nonRetryable(answer.refuse, ErrorType.unmanagedImage);
      return answer;
    };
    return {
      inspectSnapshotImage: async (input): Promise<ImageFacts> => {
        const imageId = imageIdOf(input.image);
        record('inspectSnapshotImage', imageId);
        if (this.unmanaged.has(input.image)) {
          throw ApplicationFailure.nonRetryable(
            `image ${input.image} (${imageId}) is not a managed snapshot of ${input.projectId}/${input.workItemId}`,
            ErrorType.unmanagedImage,
          );
        }
        return {
          imageId,
          sizeBytes: IMAGE_SIZE_BYTES,
          labels: {},
          createdAt: new Date(0).toISOString(),
          references: [input.image],
          layerDepth: 3,
        };
      },
      invalidateSnapshot: async (input): Promise<InvalidateAnswer> => invalidate(input.imageId),
      removeSnapshotImage: async (input): Promise<RemoveSnapshotImageResult> => remove(input.imageId),
      // Both steps in one activity, as the real one: each step answers and is recorded as itself.
      retireSnapshotImage: async (input) => {
        const invalidated = await invalidate(input.imageId);
        if (typeof invalidated !== 'string') return { step: 'invalidate', blocked: invalidated };
        return { step: 'remove', result: await remove(input.imageId) };
      },
      budgetFacts: async () => ({
        limits: this.budgetLimits.get(host) ?? {
          diskHighPercent: 85,
          diskLowPercent: 80,
          projectMaxSnapshots: {},
        },
        disk: this.diskUsage.get(host) ?? null,
        pendingPresent: {},
        uniqueBytes: {},
      }),
      recordBudgetDecision: async (input) => {
        this.budgetDecisions.push(input);
      },
    };
  }
}
