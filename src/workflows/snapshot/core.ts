// What every part of a snapshot workflow shares: its state, what it shows (publisher.ts), how the
// current image ends and leaves the disk (cleanup.ts), and the activities of each host. The
// handlers' behaviour builds on this (keeper.ts), and so does the registration (registration.ts).
// Workflow code.
import type { ActivityInterfaceFor } from '@temporalio/workflow';
import { log, proxyActivities } from '@temporalio/workflow';
import type { DockerActivities } from '../../activities/docker-activities.js';
import { dockerTaskQueue } from '../../contract/names.js';
import type { EndReason, SnapshotState } from '../../contract/snapshot-types.js';
import { ACTIVITY_PROFILES } from '../shared/activity-profiles.js';
import {
  LEAN_LIFECYCLE_PATCH,
  LOOKUPS_FROM_MEMO_PATCH,
  PULL_REQUEST_SCOPE_PATCH,
  markedByEarlierWorker,
  usePatch,
} from '../shared/patches.js';
import { releaseFromBudget } from './budget.js';
import type { CleanupSettings } from './cleanup.js';
import { SnapshotCleanup } from './cleanup.js';
import { SnapshotPublisher } from './publisher.js';
import { noActiveSnapshot } from './refusals.js';
import type { SnapshotCarry, WorkItem } from './state.js';
import { SnapshotWorkflowState } from './state.js';

interface HostActivities {
  registration: ActivityInterfaceFor<DockerActivities>;
  cleanup: ActivityInterfaceFor<DockerActivities>;
}

export class SnapshotCore {
  readonly state: SnapshotWorkflowState;
  /**
   * False when replaying a run from before pull request scoping: a merge ends the current image
   * whatever it names, and nothing checks the merge record (the new rules schedule other commands).
   */
  readonly scopedToPullRequest: boolean;
  /** False when replaying a run from before lookups read the memo (see LOOKUPS_FROM_MEMO_PATCH). */
  readonly lookupsFromMemo: boolean;
  /**
   * False when replaying a run from before the lean lifecycle (LEAN_LIFECYCLE_PATCH): it publishes
   * every change as it happens and times every cleanup step.
   */
  readonly lean: boolean;
  /**
   * True in a run started by code of SNAPSHOT_RUN_GENERATION 1 or later (its input says so) whose
   * first task no earlier worker took: a recorded use of a fixed TTL is not upserted to the memo on
   * its own (keeper.ts).
   */
  readonly usesRideAlong: boolean;
  private readonly publisher: SnapshotPublisher;
  private readonly cleanup: SnapshotCleanup;
  private readonly hosts = new Map<string, HostActivities>();

  constructor(
    readonly workItem: WorkItem,
    carry: SnapshotCarry | undefined,
    cleanupSettings: CleanupSettings,
    /** The run's generation (src/contract/run-generation.ts); 0 for runs started without one. */
    generation = 0,
  ) {
    this.state = new SnapshotWorkflowState(carry);
    // In this order, first thing in the run, as every recorded history has them.
    this.scopedToPullRequest = usePatch(PULL_REQUEST_SCOPE_PATCH);
    this.lookupsFromMemo = usePatch(LOOKUPS_FROM_MEMO_PATCH);
    // Once per run, at its first task, before anything is published: a run decides here, for
    // good, which way it publishes and cleans up (one patch for all of it: each patch called
    // costs an action and two events per run).
    // A run started by code that has the lean lifecycle (generation 1) takes it without the marker,
    // unless a worker of the previous code recorded the marker in its first task (then it runs as
    // that worker ran it).
    if (generation >= 1) {
      this.lean = true;
      this.usesRideAlong = !markedByEarlierWorker(LEAN_LIFECYCLE_PATCH);
    } else {
      this.lean = usePatch(LEAN_LIFECYCLE_PATCH);
      this.usesRideAlong = false;
    }
    this.publisher = new SnapshotPublisher(workItem, this.state, this.lookupsFromMemo, this.lean);
    this.cleanup = new SnapshotCleanup(this, cleanupSettings, this.lean);
  }

  /** Shows the state: memo, search attributes, current details (publisher.ts). */
  publish(): void {
    this.publisher.publish();
  }

  /**
   * Shows a recorded use. One that moves nothing a search attribute holds (a fixed TTL) leaves the
   * memo as it is in a run whose uses ride along (usesRideAlong): the memo then carries the use with
   * the next change it publishes (a link, the ending) or never, which costs the memo upsert of
   * every recorded use (issue 19). What a stale `lastUsedAt` in the memo costs: a lookup past the
   * recording interval since that one, in an API process that did not send the use itself
   * (RecentUses), sends its `used` signal again, which the workflow ignores (usedWithin).
   */
  publishUse(): void {
    const current = this.state.current;
    if (this.usesRideAlong && current && !current.slidingTtl) this.publisher.publishDetailsOnly();
    else this.publisher.publish();
  }

  /** Ends the current image, if there is one: it leaves the budget and the disk. */
  endCurrent(reason: EndReason, message: string): void {
    const { state } = this;
    const ended = state.end(reason, message);
    if (!ended) return;
    this.publish();
    // The budget counted the eviction itself, and a replacement's admission counts for both; an
    // image ended while its registration was still being checked was never counted.
    if (reason !== 'evicted' && reason !== 'replaced' && ended.imageId !== state.unadmitted) {
      releaseFromBudget(ended);
    }
    log.info('snapshot ends', { imageId: ended.imageId, reason, message });
    this.startCleanup(ended);
  }

  /** Starts taking an ended image off the disk, in the background (cleanup.ts). */
  startCleanup(image: SnapshotState): void {
    this.cleanup.start(image);
  }

  /** The current image, or the refusal an update about it answers with when there is none. */
  requireActive(): SnapshotState {
    if (!this.state.current) throw noActiveSnapshot(this.workItem);
    return this.state.current;
  }

  /** Whether an ending that happened at `at` targets the image set aside, if one is. */
  targetsAside(at: string | undefined, targets: (aside: SnapshotState) => boolean): boolean {
    const aside = this.state.aside;
    return !!aside && !SnapshotWorkflowState.happenedBefore(aside, at) && targets(aside);
  }

  registrationActivities(host: string): ActivityInterfaceFor<DockerActivities> {
    return this.activitiesOn(host).registration;
  }

  cleanupActivities(host: string): ActivityInterfaceFor<DockerActivities> {
    return this.activitiesOn(host).cleanup;
  }

  /** Each host's Docker activities run on that host's own task queue. */
  private activitiesOn(host: string): HostActivities {
    let acts = this.hosts.get(host);
    if (!acts) {
      const taskQueue = dockerTaskQueue(host);
      acts = {
        registration: proxyActivities<DockerActivities>({
          ...ACTIVITY_PROFILES.registration.options,
          taskQueue,
        }),
        cleanup: proxyActivities<DockerActivities>({ ...ACTIVITY_PROFILES.cleanup.options, taskQueue }),
      };
      this.hosts.set(host, acts);
    }
    return acts;
  }
}
