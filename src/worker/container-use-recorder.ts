// A container created or started from a snapshot image is a use of that snapshot, whether or not a
// router looked it up: the Docker worker of a host follows its engine's container events and tells
// the snapshot's workflow with the same `used` signal a lookup sends, scoped to the image, so a use
// of an old image never refreshes a newer current one. The LRU of the budget then spares the image a
// job has just run on.
//
// Cost, per image and recording interval (SNAPKEEPER_LOOKUP_RECORD_INTERVAL, as for lookups): a
// container inspect and an image inspect (labels are cached by image id, which never changes them),
// one describe of the workflow (the memo; no worker wakes, no event is written), and at most one
// signal, none at all when the last recorded use (a lookup's, say) is younger than the interval. A
// container's create and start, and every further container from the image within the interval,
// cost nothing more: they are coalesced here.
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import type Dockerode from 'dockerode';
import type { UpkeepMetrics } from '../activities/upkeep-metrics.js';
import { usedSignal } from '../contract/messages.js';
import { LABEL_MANAGED, LABEL_PROJECT, LABEL_WORK_ITEM, snapshotWorkflowId } from '../contract/names.js';
import type { ContainerEvent, ContainerEventWatch } from '../docker/container-events.js';
import { containerImageId, watchContainerEvents } from '../docker/container-events.js';
import type { DockerPort } from '../docker/docker-port.js';
import type { Logger } from '../logging/logger.js';
import { readCurrentImage } from '../service/current-image.js';

export type ContainerUseOutcome =
  /** The use was signalled to the snapshot's workflow. */
  | 'signalled'
  /** This process recorded a use of the image within the interval already. */
  | 'coalesced'
  /** The workflow's last recorded use (a lookup's, say) is younger than the interval. */
  | 'recorded-already'
  /** The image is not its workflow's current one (replaced, ended): nothing to record. */
  | 'not-current'
  /** No open workflow for the image's work item. */
  | 'no-workflow'
  /** Not a managed snapshot image. */
  | 'unmanaged'
  /** The container and its image were gone before they could be read. */
  | 'gone'
  /** Too many events waiting: this one was dropped. */
  | 'dropped'
  | 'failed';

export interface ContainerUseRecorderDeps {
  client: Client;
  docker: DockerPort;
  /** The image id a container runs; null when the container is gone. */
  containerImageId(containerId: string): Promise<string | null>;
  log: Logger;
  hostId: string;
  /** At most one signal per image per this interval (0: one per container event). */
  intervalMs: number;
  metrics?: UpkeepMetrics | undefined;
  now?: () => number;
}

interface Owner {
  projectId: string;
  workItemId: string;
}

/** Entries each cache keeps, at most (the oldest go first; forgetting costs one more lookup). */
const CACHE_LIMIT = 10_000;
/** Events waiting for their turn, at most: a burst past it is dropped rather than queued without end. */
const QUEUE_LIMIT = 1_000;

export class ContainerUseRecorder {
  readonly #owners = new Map<string, Owner | null>();
  readonly #containers = new Map<string, string>();
  readonly #recorded = new Map<string, number>();
  #tail: Promise<unknown> = Promise.resolve();
  #waiting = 0;

  constructor(private readonly deps: ContainerUseRecorderDeps) {}

  /** Takes one event; events are recorded one after the other, in the order they came. */
  handle(event: ContainerEvent): void {
    if (this.#waiting >= QUEUE_LIMIT) {
      this.count('dropped');
      return;
    }
    this.#waiting++;
    this.#tail = this.#tail
      .then(() => this.record(event))
      .then((outcome) => this.count(outcome))
      .finally(() => this.#waiting--);
  }

  /** Settles once every event taken so far is recorded (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.#waiting > 0) await this.#tail;
  }

  async record(event: ContainerEvent): Promise<ContainerUseOutcome> {
    const { log } = this.deps;
    try {
      return await this.recordOne(event);
    } catch (err) {
      log.warn(
        { containerId: event.containerId, image: event.image, error: (err as Error).message },
        'could not record the use of a container start',
      );
      return 'failed';
    }
  }

  private async recordOne(event: ContainerEvent): Promise<ContainerUseOutcome> {
    const { client, intervalMs, log } = this.deps;
    const imageId = await this.imageOf(event);
    if (!imageId) return 'gone';
    const owner = await this.ownerOf(imageId);
    if (owner === undefined) return 'gone';
    if (owner === null) return 'unmanaged';
    const now = this.now();
    const last = this.#recorded.get(imageId);
    if (last !== undefined && now - last < intervalMs) return 'coalesced';

    const workflowId = snapshotWorkflowId(owner.projectId, owner.workItemId);
    const read = await readCurrentImage(client, workflowId);
    // Also remembered: containers of an image nothing holds cost one describe per interval, not one each.
    remember(this.#recorded, imageId, now);
    if (!read) return 'no-workflow';
    const current = read.current;
    // A use of an image that has been replaced (or ended) must not refresh the newer current one.
    if (!current || current.imageId !== imageId) return 'not-current';
    // As a lookup does: a short TTL is recorded more often, so a sliding one cannot lapse.
    const every = Math.min(intervalMs, (current.ttlSeconds * 1000) / 10);
    const lastUsed = Date.parse(current.lastUsedAt);
    if (now - lastUsed < every) {
      remember(this.#recorded, imageId, lastUsed);
      return 'recorded-already';
    }
    try {
      // To the run read: a later run of the same work item holds another image.
      await client.workflow
        .getHandle(workflowId, read.runId)
        .signal(usedSignal, { imageId, recordEveryMs: every });
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return 'no-workflow';
      // Not recorded: the next event tries again.
      this.#recorded.delete(imageId);
      throw err;
    }
    log.debug({ workflowId, imageId, containerId: event.containerId }, 'container use recorded');
    return 'signalled';
  }

  /** The image id the container runs; from the event's own reference when the container is gone. */
  private async imageOf(event: ContainerEvent): Promise<string | null> {
    const known = this.#containers.get(event.containerId);
    if (known) return known;
    let imageId = await this.deps.containerImageId(event.containerId);
    // A container removed before its event was read (docker run --rm of a short job): the reference
    // it was created with names the image, unless a tag has moved meanwhile (then the workflow's
    // scope check below refuses the use of an image that is not current).
    imageId ??= (await this.deps.docker.inspectImage(event.image))?.id ?? null;
    if (imageId) remember(this.#containers, event.containerId, imageId);
    return imageId;
  }

  /** The work item a managed image belongs to; null: unmanaged; undefined: the image is gone. */
  private async ownerOf(imageId: string): Promise<Owner | null | undefined> {
    if (this.#owners.has(imageId)) return this.#owners.get(imageId);
    const info = await this.deps.docker.inspectImage(imageId);
    if (!info) return undefined;
    const projectId = info.labels[LABEL_PROJECT];
    const workItemId = info.labels[LABEL_WORK_ITEM];
    const owner =
      info.labels[LABEL_MANAGED] === 'true' && projectId && workItemId ? { projectId, workItemId } : null;
    remember(this.#owners, imageId, owner);
    return owner;
  }

  private count(outcome: ContainerUseOutcome): void {
    this.deps.metrics?.recordContainerUse?.(this.deps.hostId, outcome);
  }

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }
}

function remember<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key);
  map.set(key, value);
  while (map.size > CACHE_LIMIT) {
    const oldest = map.keys().next().value;
    if (oldest === undefined) break;
    map.delete(oldest);
  }
}

export interface ContainerUseRecording {
  recorder: ContainerUseRecorder;
  watch: ContainerEventWatch;
  /** Stops following the engine and waits for the events already taken. */
  stop(): Promise<void>;
}

/**
 * Follows the host's engine and records the uses its containers make of snapshot images, until
 * stopped. Runs in the Docker worker of the host (src/worker/main.ts).
 */
export function recordContainerUses(
  deps: Omit<ContainerUseRecorderDeps, 'containerImageId'> & { dockerode: Dockerode },
): ContainerUseRecording {
  const { dockerode, log, hostId, metrics } = deps;
  const recorder = new ContainerUseRecorder({
    ...deps,
    containerImageId: (id) => containerImageId(dockerode, id),
  });
  let disconnected = false;
  const watch = watchContainerEvents(dockerode, {
    onEvent: (event) => recorder.handle(event),
    onConnect: () => {
      if (disconnected) log.info({ hostId }, "following the engine's container events again");
      disconnected = false;
    },
    onDisconnect: (err, retryInMs) => {
      metrics?.recordEventStreamReconnect?.(hostId);
      // Once per outage: an engine down for long would repeat it at every attempt.
      if (!disconnected)
        log.warn(
          { hostId, error: err instanceof Error ? err.message : String(err), retryInMs },
          "lost the engine's container events (container uses go unrecorded until it is back); reconnecting",
        );
      disconnected = true;
    },
  });
  return {
    recorder,
    watch,
    async stop() {
      watch.stop();
      await watch.stopped;
      await recorder.idle();
    },
  };
}
