// The snapshot lifecycles of a chaos run, each the way a router and GitHub really drive snapkeeper:
// commit a container, register it over the API, reuse it, and end it by every means there is.
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkflowNotFoundError } from '@temporalio/client';
import type Dockerode from 'dockerode';
import { snapshotWorkflowId } from '../../src/contract/names.js';
import type { SnapshotWorkflowView } from '../../src/contract/snapshot-types.js';
import { stateQuery } from '../../src/contract/messages.js';
import { pullRequestEvent, signature } from '../unit/api-github-payloads.js';
import type { ChaosHttp, HttpAnswer } from './chaos-http.js';
import { removeContainerById } from '../support/containers.js';
import { commitJobSnapshot, startHolder } from './chaos-images.js';
import type { ChaosHost, ChaosSystem } from './chaos-system.js';
import { BASE_IMAGE, BUDGET_PROJECT, MERGE_PROJECT, MERGE_REPOSITORY } from './chaos-system.js';
import type { Expectation, Ledger, LifecycleKind, Registration } from './ledger.js';
import type { Prng } from './prng.js';

export interface LifecycleContext {
  system: ChaosSystem;
  http: ChaosHttp;
  ledger: Ledger;
  log: (line: string) => void;
  /** Probability that a snapshot gets a reference from someone else (it must then be kept). */
  foreignTagChance: number;
}

const LONG_TTL = 3600;
const RETRY_DEADLINE_MS = 180_000;

/** A retried step slower than this is logged with its attempts: it is what stretches a lifecycle. */
const SLOW_STEP_MS = 15_000;

/** Docker calls are retried while an engine restarts (its socket is gone for a few seconds). */
async function retrying<T>(
  what: string,
  fn: () => Promise<T>,
  log: (line: string) => void,
  onError: (message: string) => void = () => undefined,
  deadlineMs = RETRY_DEADLINE_MS,
): Promise<T> {
  const started = Date.now();
  const deadline = started + deadlineMs;
  let lastError = '';
  const slow = (attempts: number) => {
    const ms = Date.now() - started;
    if (ms > SLOW_STEP_MS)
      log(`slow step (${Math.round(ms / 1000)} s, ${attempts} attempts): ${what}; last error: ${lastError}`);
  };
  for (let attempt = 1; ; attempt++) {
    try {
      const value = await fn();
      slow(attempt);
      return value;
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
      onError(lastError);
      // An image that is gone (its snapshot ended: a TTL, a merge, disk pressure) does not come
      // back: retrying for minutes only stretched the run (seen in the full run of 2026-12-07).
      if (Date.now() > deadline || /No such image/.test(lastError)) {
        slow(attempt);
        throw new Error(`${what}: ${lastError}`);
      }
      await sleep(Math.min(300 * attempt, 3_000));
    }
  }
}

/** A workflow that already ended (or never started) needs no cancel or terminate. */
async function ignoreClosed(op: Promise<unknown>): Promise<void> {
  try {
    await op;
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
  }
}

class Lifecycle {
  readonly workflowId: string;
  private holder: string | undefined;

  constructor(
    private readonly ctx: LifecycleContext,
    private readonly prng: Prng,
    readonly n: number,
    readonly kind: LifecycleKind,
    readonly host: ChaosHost,
    readonly projectId: string,
    readonly workItemId: string,
  ) {
    this.workflowId = snapshotWorkflowId(projectId, workItemId);
  }

  /** A full disk shows as ENOSPC in the engine's answers (a commit, a container's write). */
  private readonly countError = (message: string): void => {
    if (/no space left on device/i.test(message)) this.ctx.ledger.noSpaceErrors++;
  };

  get docker(): Dockerode {
    return this.host.docker;
  }

  async commit(fromImage: string = BASE_IMAGE): Promise<{ image: string; imageId: string }> {
    const committed = await retrying(
      `commit for ${this.workflowId}`,
      () =>
        commitJobSnapshot(this.docker, {
          fromImage,
          projectId: this.projectId,
          workItemId: this.workItemId,
          marker: this.prng.hex(8),
        }),
      this.ctx.log,
      this.countError,
    );
    this.ctx.ledger.lastCommitAt = Date.now();
    return committed;
  }

  async register(
    img: { image: string; imageId: string },
    options: { ttlSeconds: number; pullRequest?: number; expect: Expectation },
  ): Promise<Registration> {
    const reg: Registration = {
      lifecycle: this.n,
      kind: this.kind,
      host: this.host.id,
      projectId: this.projectId,
      workItemId: this.workItemId,
      image: img.image,
      imageId: img.imageId,
      acknowledged: false,
      answers: [],
      expect: options.expect,
    };
    this.ctx.ledger.registrations.push(reg);
    const body = JSON.stringify({
      projectId: this.projectId,
      workItemId: this.workItemId,
      image: img.image,
      host: this.host.id,
      ttlSeconds: options.ttlSeconds,
      ...(options.pullRequest
        ? { pullRequest: { repository: MERGE_REPOSITORY, number: options.pullRequest } }
        : {}),
    });
    const answer = await this.ctx.http.call('POST', '/v1/snapshots', { body });
    for (const r of answer.retried) reg.answers.push(`retried after: ${r.slice(0, 80)}`);
    reg.answers.push(`${answer.status} ${String(answer.body.outcome ?? answer.body.error ?? '')}`);
    reg.acknowledged = answer.status === 200 || answer.status === 201;
    if (!reg.acknowledged)
      this.note(
        `registration of ${img.image} answered ${reg.answers.join('; ')}: ${String(answer.body.message)}`,
      );
    if (reg.acknowledged && this.prng.chance(this.ctx.foreignTagChance)) await this.tagForeign(reg);
    return reg;
  }

  /** Someone else (an operator promoting it, a debugging session) also tags the snapshot. */
  private async tagForeign(reg: Registration): Promise<void> {
    const tag = `l${this.n}-${this.prng.hex(6)}`;
    await retrying(
      `foreign tag of ${reg.imageId.slice(0, 19)}`,
      () => this.docker.getImage(reg.imageId).tag({ repo: 'chaos-someone/kept', tag }),
      this.ctx.log,
      this.countError,
    );
    reg.foreignTag = `chaos-someone/kept:${tag}`;
  }

  async maybeHold(p = 0.35): Promise<void> {
    if (!this.prng.chance(p)) return;
    const reg = this.ctx.ledger.registrations.filter((r) => r.lifecycle === this.n).pop();
    if (!reg) return;
    const id = await retrying(
      `start holder of ${reg.imageId.slice(0, 19)} on ${this.host.id}`,
      () => startHolder(this.docker, reg.imageId),
      this.ctx.log,
      this.countError,
    ).catch((err: unknown) => {
      this.note(`holder not started: ${String(err)}`);
      return undefined;
    });
    if (!id) return;
    this.holder = id;
    this.ctx.ledger.holdersStarted++;
    let set = this.ctx.ledger.holders.get(this.host.id);
    if (!set) this.ctx.ledger.holders.set(this.host.id, (set = new Set()));
    set.add(id);
  }

  /** The container goes a little after the snapshot ended, so its removal blocks, then unblocks. */
  async release(): Promise<void> {
    const id = this.holder;
    if (!id) return;
    await sleep(this.prng.int(500, 6_000));
    await retrying(
      `remove holder ${id.slice(0, 12)} on ${this.host.id}`,
      () => removeContainerById(this.docker, id),
      this.ctx.log,
      this.countError,
    );
    this.ctx.ledger.holders.get(this.host.id)?.delete(id);
    this.holder = undefined;
  }

  async pause(minMs: number, maxMs: number): Promise<void> {
    await sleep(this.prng.int(minMs, maxMs));
  }

  async lookup(): Promise<HttpAnswer> {
    return this.ctx.http.call('GET', this.path());
  }

  async invalidate(): Promise<HttpAnswer> {
    return this.ctx.http.call('DELETE', `${this.path()}?reason=${encodeURIComponent(`chaos ${this.n}`)}`);
  }

  async linkPullRequest(number: number): Promise<HttpAnswer> {
    return this.ctx.http.call('PUT', `${this.path()}/pull-request`, {
      body: JSON.stringify({ repository: MERGE_REPOSITORY, number }),
    });
  }

  /** A signed merge delivery for this work item's branch and pull request. */
  mergeDelivery(pullRequest: number): { body: string; headers: Record<string, string> } {
    const payload = pullRequestEvent({
      repository: MERGE_REPOSITORY,
      number: pullRequest,
      headRef: `chaos/${this.workItemId}`,
    });
    // The head repository is the base repository: a branch of the project itself, not a fork.
    const pr = payload.pull_request as { head: { repo: Record<string, unknown> } };
    pr.head.repo = { ...pr.head.repo, full_name: MERGE_REPOSITORY };
    const body = JSON.stringify(payload);
    return {
      body,
      headers: {
        'content-type': 'application/json',
        'x-github-event': 'pull_request',
        'x-github-delivery': `chaos-${this.n}-${this.prng.hex(12)}`,
        'x-hub-signature-256': signature(body, this.ctx.system.secret),
      },
    };
  }

  async deliver(delivery: { body: string; headers: Record<string, string> }, times = 1): Promise<void> {
    for (let i = 0; i < times; i++) {
      const answer = await this.ctx.http.call('POST', '/webhooks/github', delivery);
      this.ctx.ledger.webhookDeliveries++;
      if (i > 0) this.ctx.ledger.duplicateDeliveries++;
      if (answer.status >= 300) this.note(`webhook answered ${answer.status} ${JSON.stringify(answer.body)}`);
    }
  }

  async workflow<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return retrying(`${what} ${this.workflowId}`, fn, this.ctx.log, this.countError);
  }

  async view(): Promise<SnapshotWorkflowView | null> {
    try {
      return await this.ctx.system.client.workflow.getHandle(this.workflowId).query(stateQuery);
    } catch {
      return null;
    }
  }

  async cancel(): Promise<void> {
    await this.workflow('cancel', () =>
      ignoreClosed(this.ctx.system.client.workflow.getHandle(this.workflowId).cancel()),
    );
  }

  async terminate(): Promise<void> {
    await this.workflow('terminate', () =>
      ignoreClosed(
        this.ctx.system.client.workflow.getHandle(this.workflowId).terminate('chaos: terminate + reconcile'),
      ),
    );
  }

  note(message: string): void {
    this.ctx.ledger.anomalies.push(`lifecycle ${this.n} (${this.kind}): ${message}`);
  }

  private path(): string {
    return `/v1/snapshots/${encodeURIComponent(this.projectId)}/${encodeURIComponent(this.workItemId)}`;
  }
}

const STEPS: Record<LifecycleKind, (l: Lifecycle, prng: Prng) => Promise<void>> = {
  async merge(l, prng) {
    const pr = 10_000 + l.n;
    await l.register(await l.commit(), { ttlSeconds: LONG_TTL, pullRequest: pr, expect: 'gone' });
    await l.maybeHold();
    if (prng.chance(0.5)) await l.lookup();
    await l.pause(200, 4_000);
    const delivery = l.mergeDelivery(pr);
    await l.deliver(delivery, prng.int(1, 3));
    await l.release();
    // A late redelivery after the end must be harmless.
    if (prng.chance(0.3)) await l.pause(1_000, 5_000).then(() => l.deliver(delivery));
  },
  async ttl(l, prng) {
    await l.register(await l.commit(), { ttlSeconds: prng.int(3, 12), expect: 'gone' });
    await l.maybeHold();
    for (let i = prng.int(0, 2); i > 0; i--) await l.lookup();
    await l.pause(3_000, 12_000);
    await l.release();
  },
  async invalidate(l, prng) {
    await l.register(await l.commit(), { ttlSeconds: LONG_TTL, expect: 'gone' });
    await l.maybeHold();
    await l.pause(200, 4_000);
    const first = await l.invalidate();
    if (first.status !== 202) l.note(`DELETE answered ${first.status}`);
    if (prng.chance(0.3)) await l.invalidate();
    await l.release();
  },
  async evict(l, prng) {
    // The budget project keeps two snapshots per host: registering more evicts the least recently used.
    await l.register(await l.commit(), { ttlSeconds: prng.int(20, 40), expect: 'gone' });
    await l.maybeHold(0.2);
    await l.pause(1_000, 6_000);
    await l.release();
  },
  async replace(l, prng) {
    const first = await l.commit();
    await l.register(first, { ttlSeconds: LONG_TTL, expect: 'gone' });
    await l.maybeHold(0.25);
    await l.pause(200, 2_000);
    // The next job starts from the snapshot and is committed in turn: a child sharing its layers.
    const child = await l.commit(first.image);
    const ttlSeconds = prng.int(4, 15);
    if (prng.chance(0.4)) {
      // Two registrations for one work item at once: one replaces the other, both end.
      const other = await l.commit();
      await Promise.all([
        l.register(child, { ttlSeconds, expect: 'gone' }),
        l.pause(0, 300).then(() => l.register(other, { ttlSeconds, expect: 'gone' })),
      ]);
    } else {
      await l.register(child, { ttlSeconds, expect: 'gone' });
    }
    await l.release();
    await l.pause(1_000, ttlSeconds * 1000);
  },
  async cancel(l) {
    await l.register(await l.commit(), { ttlSeconds: LONG_TTL, expect: 'gone' });
    await l.maybeHold();
    await l.pause(200, 4_000);
    await l.cancel();
    await l.release();
  },
  async terminate(l) {
    // Terminate runs no workflow code: the reconciler must find and remove the orphan.
    await l.register(await l.commit(), { ttlSeconds: LONG_TTL, expect: 'gone' });
    await l.pause(200, 3_000);
    await l.terminate();
  },
  async 'late-webhook'(l, prng) {
    const pr = 20_000 + l.n;
    await l.register(await l.commit(), { ttlSeconds: LONG_TTL, pullRequest: pr, expect: 'gone' });
    const delivery = l.mergeDelivery(pr);
    await l.deliver(delivery, prng.int(1, 2));
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline) {
      const v = await l.view();
      if (!v?.current) break;
      await sleep(500);
    }
    // The work item goes on with a new snapshot; GitHub then redelivers the old merge.
    await l.register(await l.commit(), { ttlSeconds: LONG_TTL, expect: 'held' });
    await l.pause(0, 2_000);
    await l.deliver(delivery, prng.int(1, 3));
  },
  async race(l, prng) {
    const pr = 30_000 + l.n;
    const img = await l.commit();
    await Promise.all([
      l.register(img, { ttlSeconds: prng.int(15, 30), pullRequest: pr, expect: 'gone' }),
      l.pause(0, 400).then(() => l.deliver(l.mergeDelivery(pr), prng.int(1, 2))),
    ]);
  },
  async held(l, prng) {
    await l.register(await l.commit(), { ttlSeconds: LONG_TTL, expect: 'held' });
    for (let i = prng.int(1, 3); i > 0; i--) {
      await l.pause(200, 2_000);
      const hit = await l.lookup();
      if (hit.status !== 200) l.note(`lookup of a held snapshot answered ${hit.status}`);
    }
    if (prng.chance(0.5)) await l.linkPullRequest(40_000 + l.n);
  },
};

function projectFor(kind: LifecycleKind, n: number): string {
  if (kind === 'merge' || kind === 'late-webhook' || kind === 'race') return MERGE_PROJECT;
  if (kind === 'evict') return BUDGET_PROJECT;
  return `chaos-p${n % 5}`;
}

/** Runs lifecycle `n`; failures are recorded, never thrown, so one broken lifecycle stops nothing. */
export async function runLifecycle(
  ctx: LifecycleContext,
  prng: Prng,
  n: number,
  kind: LifecycleKind,
): Promise<void> {
  const host = prng.pick(ctx.system.hosts);
  const lifecycle = new Lifecycle(ctx, prng, n, kind, host, projectFor(kind, n), `w${n}-${prng.hex(6)}`);
  const record: Ledger['lifecycles'][number] = { n, kind, done: false };
  ctx.ledger.lifecycles.push(record);
  const started = Date.now();
  try {
    await STEPS[kind](lifecycle, prng);
    record.done = true;
  } catch (err) {
    record.error = err instanceof Error ? err.message : String(err);
    ctx.log(`lifecycle ${n} (${kind}) failed: ${record.error}`);
  } finally {
    await lifecycle.release().catch(() => undefined);
    record.seconds = Math.round((Date.now() - started) / 1000);
  }
}
