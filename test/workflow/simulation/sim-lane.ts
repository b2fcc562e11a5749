// One work item driven through its steps: each action sent the way the API, the webhook, the
// budget, an operator or the world would (same contract constants), the actions of a step all at
// once, then the workflow's state observed and checked against the lane's model.
import {
  QueryRejectedError,
  ServiceError,
  WithStartWorkflowOperation,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { SNAPSHOT_MEMO_KEY, WORKFLOW_TASK_QUEUE, snapshotWorkflowId } from '../../../src/contract/names.js';
import type {
  RegisterRequest,
  SnapshotMemo,
  SnapshotState,
  SnapshotWorkflowView,
} from '../../../src/contract/snapshot-types.js';
import {
  evictSignal,
  invalidateSignal,
  invalidateUpdate,
  linkPullRequestUpdate,
  mergedSignal,
  registerUpdate,
  stateQuery,
  touchUpdate,
  usedSignal,
  vanishedSignal,
} from '../../../src/contract/messages.js';
import type { Action, LanePlan, Step } from './sim-actions.js';
import { RECORD_EVERY_MS, modelMinutesMs, ttlSecondsOf } from './sim-clock.js';
import type { LaneImage, Outcome } from './sim-model.js';
import { LaneModel, checkStep } from './sim-model.js';
import type { SimSystem } from './sim-system.js';
import { SIM_HOSTS } from './sim-system.js';

/**
 * An action without an answer for this long is reported: the protocol must answer. Generous, since
 * `npm test` runs the simulation beside the integration tests on two cores (scripts/test.sh): an
 * answer late under that load is not a protocol that never answers.
 */
const ANSWER_WITHIN_MS = 90_000;
/** A state query that failed (not refused) is asked again this many times in all. */
const QUERY_ATTEMPTS = 3;

export class Lane {
  readonly model: LaneModel;

  constructor(
    private readonly system: SimSystem,
    projectId: string,
    workItemId: string,
    private readonly plan: Pick<LanePlan, 'continueAsNewAfterEvents'>,
  ) {
    this.model = new LaneModel(projectId, workItemId, `acme/${workItemId}`);
    system.workflowIds.add(this.workflowId);
  }

  get workflowId(): string {
    return snapshotWorkflowId(this.model.projectId, this.model.workItemId);
  }

  // Untyped: the messages carry their own types (src/contract/messages.ts), and the workflow's
  // module is being moved (src/workflows/snapshot/).
  private handle() {
    return this.system.client.workflow.getHandle(this.workflowId);
  }

  /** Runs one step and answers the violations its check found. */
  async step(step: Step): Promise<string[]> {
    const began = Date.now();
    const outcomes = await Promise.all(step.map((a) => this.withDeadline(a, this.act(a))));
    if (process.env.SNAPKEEPER_SIM_DEBUG && outcomes.some((o) => o.detail === 'no answer')) {
      for (const id of this.system.workflowIds) {
        const d = await this.system.client.workflow
          .getHandle(id)
          .describe()
          .catch(() => undefined);
        if (!d) continue;
        const raw = d.raw;
        process.stderr.write(
          `[simulation] ${id} ${d.status.name} pendingActivities=${JSON.stringify(raw.pendingActivities?.map((p) => [p.activityType?.name, p.state, p.attempt, p.lastFailure?.message]))} wft=${JSON.stringify(raw.pendingWorkflowTask)}\n`,
        );
      }
    }
    if (process.env.SNAPKEEPER_SIM_DEBUG && Date.now() - began > 2000) {
      process.stderr.write(`[simulation] slow step ${Date.now() - began} ms: ${JSON.stringify(outcomes)}\n`);
    }
    let view = await this.observe();
    // The query answered before the check reads the disk: an image whose TTL ran out meanwhile may
    // already be on its way off. Gone yet still current after a second look is a violation; no
    // longer current, its ending is checked like any other.
    if (view?.current && !this.onDisk(view.current)) view = await this.observe();
    const nowMs = this.system.now();
    const late = outcomes
      .filter((o) => o.detail === 'no answer')
      .map((o) => `no answer to ${JSON.stringify(o.action)}`);
    const ended = view ? [...view.retiring, ...(view.last ? [view.last] : [])] : [];
    return [
      ...late,
      ...checkStep(this.model, outcomes, {
        current: view?.current ?? null,
        ended,
        nowMs,
        engines: this.system.engines,
      }),
    ];
  }

  /** The image and every reference the workflow says it holds are on the engine. */
  private onDisk(state: SnapshotState): boolean {
    const info = this.system.engines.find(state.host, state.imageId);
    if (!info) return false;
    return (state.references ?? []).every((r) => info.repoTags.includes(r) || info.repoDigests.includes(r));
  }

  private async withDeadline(action: Action, run: Promise<Outcome>): Promise<Outcome> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<Outcome>((resolve) => {
      timer = setTimeout(() => resolve({ action, result: 'unknown', detail: 'no answer' }), ANSWER_WITHIN_MS);
    });
    try {
      return await Promise.race([run, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * What the workflow holds: its current image, and the ones leaving with why they ended; a
   * workflow that never started or has closed holds none (null).
   */
  async observe(): Promise<SnapshotWorkflowView | null> {
    if (!this.model.started) return null;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.system.queries.workflow.getHandle(this.workflowId).query(stateQuery);
      } catch (err) {
        if (err instanceof QueryRejectedError || err instanceof WorkflowNotFoundError) return null;
        // A query asked while the worker restarts can time out on the old worker's sticky queue;
        // a query changes nothing, so asking again is safe.
        if (!(err instanceof ServiceError) || attempt >= QUERY_ATTEMPTS) throw err;
      }
    }
  }

  private async act(a: Action): Promise<Outcome> {
    const m = this.model;
    const named = (scope: string) =>
      scope === 'current'
        ? m.current?.imageId
        : scope === 'stale'
          ? (m.stale()?.id ?? 'sha256:none')
          : undefined;
    switch (a.kind) {
      case 'register':
        return await this.register(a);
      case 'link':
        return await this.update(a, () =>
          this.handle().executeUpdate(linkPullRequestUpdate, { args: [this.pr(a.pr)] }),
        );
      case 'merge': {
        // The webhook writes the merge record first, then signals what it finds.
        this.system.control.recordMerge(this.pr(a.pr));
        m.merged.add(a.pr);
        const deliveryId = `${m.workItemId}-pr${a.pr}-d${a.delivery}`;
        return await this.signal(a, undefined, () =>
          this.handle().signal(mergedSignal, { pullRequest: this.pr(a.pr), deliveryId, match: a.match }),
        );
      }
      case 'invalidate': {
        const imageId = named(a.scope);
        const scoped = { reason: 'simulation', ...(imageId ? { imageId } : {}) };
        if (a.via === 'signal')
          return await this.signal(a, imageId, () => this.handle().signal(invalidateSignal, scoped));
        return await this.update(
          a,
          () => this.handle().executeUpdate(invalidateUpdate, { args: [scoped] }),
          imageId,
        );
      }
      case 'evict': {
        const imageId = named(a.scope);
        return await this.signal(a, imageId, () =>
          this.handle().signal(evictSignal, { reason: 'simulation budget', ...(imageId ? { imageId } : {}) }),
        );
      }
      case 'use': {
        if (a.via === 'touch') {
          return await this.update(a, () =>
            this.handle().executeUpdate(touchUpdate, { args: [{ recordEveryMs: RECORD_EVERY_MS }] }),
          );
        }
        const imageId = named(a.scope) ?? m.current?.imageId ?? 'sha256:none';
        return await this.signal(a, imageId, () =>
          this.handle().signal(usedSignal, { imageId, recordEveryMs: RECORD_EVERY_MS }),
        );
      }
      case 'lookup': {
        if (!m.started) return { action: a, result: 'skipped' };
        const description = await this.handle()
          .describe()
          .catch((err: unknown) => {
            if (err instanceof WorkflowNotFoundError) return undefined;
            throw err;
          });
        if (!description) return { action: a, result: 'skipped' };
        const memo = description.memo?.[SNAPSHOT_MEMO_KEY] as SnapshotMemo | undefined;
        return { action: a, result: 'ok', answered: memo?.current?.imageId ?? null };
      }
      case 'cancel':
        return await this.signal(a, undefined, async () => {
          await this.handle().cancel();
        });
      case 'time':
        await this.system.sleep(modelMinutesMs(a.minutes));
        return { action: a, result: 'ok' };
      case 'restart':
        await this.system.restartWorkflowWorker();
        return { action: a, result: 'ok' };
      case 'engine-down':
        this.system.engines.failNext(this.host(a.host), a.calls);
        return { action: a, result: 'ok' };
      case 'container':
        return this.container(a);
      case 'vanish':
        return await this.vanish(a);
      case 'foreign-tag': {
        const target = this.target(a.scope);
        if (!target) return { action: a, result: 'skipped' };
        m.foreignTags += 1;
        const ok = this.system.engines.tagForeign(
          target.host,
          target.id,
          `others/${m.workItemId}:keep-${m.foreignTags}`,
        );
        return { action: a, result: ok ? 'ok' : 'skipped', imageId: target.id };
      }
    }
  }

  private host(index: number): string {
    return SIM_HOSTS[index % SIM_HOSTS.length] as string;
  }

  private pr(n: number) {
    return { repository: this.model.repository, number: n };
  }

  private target(scope: 'current' | 'stale'): LaneImage | undefined {
    const m = this.model;
    return scope === 'current' && m.current ? m.image(m.current.imageId) : m.stale();
  }

  private commit(host: string, parent: LaneImage | undefined, declared: boolean): LaneImage {
    const m = this.model;
    m.commits += 1;
    const tag = `sim/${m.workItemId}:c${m.commits}`;
    const parentId = parent?.id ?? this.system.engines.baseOf(host);
    const depth = parent ? (this.system.engines.find(host, parent.id)?.layers ?? 2) + 1 : 2;
    const options = {
      projectId: m.projectId,
      workItemId: m.workItemId,
      tag,
      parentId,
      declared,
      layers: depth,
    };
    const image = { id: this.system.engines.commit(host, options), host, tag, parentId };
    m.images.push(image);
    return image;
  }

  private chooseImage(a: Extract<Action, { kind: 'register' }>): LaneImage {
    const m = this.model;
    const current = m.current ? m.image(m.current.imageId) : undefined;
    const onDisk = (i: LaneImage | undefined) =>
      i && this.system.engines.find(i.host, i.id) ? i : undefined;
    switch (a.image) {
      case 'same':
        if (current) return current;
        break;
      case 'child': {
        const parent = onDisk(current);
        if (parent) return this.commit(parent.host, parent, a.declared);
        break;
      }
      case 'parent': {
        const parent = current ? m.image(current.parentId) : undefined;
        if (parent) return parent;
        break;
      }
      case 'old': {
        const old = m.stale(a.pick);
        if (old) return old;
        break;
      }
    }
    return this.commit(this.host(a.host), undefined, a.declared);
  }

  private async register(a: Extract<Action, { kind: 'register' }>): Promise<Outcome> {
    const m = this.model;
    const image = this.chooseImage(a);
    const req: RegisterRequest = {
      image: a.by === 'tag' ? image.tag : image.id,
      host: image.host,
      ttlSeconds: ttlSecondsOf(a.ttlHours),
      slidingTtl: a.sliding,
      ...(a.pr !== null ? { pullRequest: this.pr(a.pr) } : {}),
    };
    const outcome = await this.update(
      a,
      async () => {
        try {
          if (!m.started) throw new WorkflowNotFoundError('not started', this.workflowId, undefined);
          return await this.handle().executeUpdate(registerUpdate, { args: [req] });
        } catch (err) {
          if (!(err instanceof WorkflowNotFoundError)) throw err;
          return await this.registerWithStart(req);
        }
      },
      image.id,
    );
    return outcome;
  }

  /** As the API does: update-with-start, so the first registration arrives with the first task. */
  private async registerWithStart(req: RegisterRequest) {
    const m = this.model;
    const startWorkflowOperation = new WithStartWorkflowOperation('snapshotWorkflow', {
      workflowId: this.workflowId,
      taskQueue: WORKFLOW_TASK_QUEUE,
      args: [
        {
          projectId: m.projectId,
          workItemId: m.workItemId,
          options: {
            continueAsNewAfterEvents: this.plan.continueAsNewAfterEvents,
            // A removal blocked by a container is retried on a real timer: short, so the end of a
            // run (containers gone) does not wait for a long backoff.
            removalBackoffInitialSeconds: 1,
            removalBackoffMaxSeconds: 2,
          },
        },
      ],
      workflowIdConflictPolicy: 'USE_EXISTING',
    });
    m.started = true;
    const result = await this.system.client.workflow.executeUpdateWithStart(registerUpdate, {
      args: [req],
      startWorkflowOperation,
    });
    const started = await this.handle()
      .describe()
      .catch(() => undefined);
    if (started) m.runIds.add(started.runId);
    return result;
  }

  private async update<T>(a: Action, send: () => Promise<T>, imageId?: string): Promise<Outcome> {
    if (!this.model.started && a.kind !== 'register') return { action: a, result: 'skipped' };
    try {
      const answer = await send();
      const snapshot =
        answer && typeof answer === 'object' && 'snapshot' in answer
          ? (answer as { snapshot: SnapshotState }).snapshot
          : undefined;
      return {
        action: a,
        result: 'ok',
        ...(imageId ? { imageId } : {}),
        ...(snapshot ? { answered: snapshot.imageId, answeredExpiresAt: snapshot.expiresAt } : {}),
      };
    } catch (err) {
      return { action: a, ...classify(err), ...(imageId ? { imageId } : {}) };
    }
  }

  private async signal(
    a: Action,
    imageId: string | undefined,
    send: () => Promise<unknown>,
  ): Promise<Outcome> {
    if (!this.model.started) return { action: a, result: 'skipped' };
    try {
      await send();
      return { action: a, result: 'ok', ...(imageId ? { imageId } : {}) };
    } catch (err) {
      return { action: a, ...classify(err), ...(imageId ? { imageId } : {}) };
    }
  }

  private container(a: Extract<Action, { kind: 'container' }>): Outcome {
    const m = this.model;
    const engines = this.system.engines;
    if (a.op === 'stop') {
      const c = m.containers.shift();
      if (c) engines.removeContainer(c.host, c.id);
      return { action: a, result: c ? 'ok' : 'skipped' };
    }
    const target = this.target('current');
    const id = target ? engines.startContainer(target.host, target.id) : undefined;
    if (target && id) m.containers.push({ id, host: target.host });
    return { action: a, result: id ? 'ok' : 'skipped', ...(target ? { imageId: target.id } : {}) };
  }

  /** Someone runs `docker rmi -f`; for the current image the reconciler then reports it vanished. */
  private async vanish(a: Extract<Action, { kind: 'vanish' }>): Promise<Outcome> {
    const m = this.model;
    const target = this.target(a.scope);
    if (!target || !this.system.engines.removeOutside(target.host, target.id))
      return { action: a, result: 'skipped' };
    m.vanished.add(target.id);
    if (m.current?.imageId !== target.id) return { action: a, result: 'ok', imageId: target.id };
    const message = `image ${target.tag} vanished from ${target.host}`;
    return await this.signal(a, target.id, () =>
      this.handle().signal(vanishedSignal, { imageId: target.id, message }),
    );
  }
}

function classify(err: unknown): Pick<Outcome, 'result' | 'detail'> {
  if (err instanceof WorkflowUpdateFailedError) {
    const cause = err.cause;
    return {
      result: 'refused',
      detail: cause instanceof ApplicationFailure ? (cause.type ?? cause.message) : String(cause),
    };
  }
  if (err instanceof WorkflowNotFoundError) return { result: 'skipped', detail: 'no open workflow' };
  return { result: 'unknown', detail: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
}
