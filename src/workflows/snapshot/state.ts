// What a snapshot workflow holds (the current image, the images on their way off the disk, what it
// remembers of merges and deliveries) and the transitions between those, without any command: the
// workflow file wires handlers to these and does the I/O (activities, signals, attributes).
import type {
  EndReason,
  SnapshotState,
  SnapshotStatus,
  SnapshotWorkflowView,
} from '../../contract/snapshot-types.js';
import { nowIso, plusSeconds } from '../shared/workflow-helpers.js';

/** The work item a snapshot workflow belongs to (its workflow id is made of these). */
export interface WorkItem {
  projectId: string;
  workItemId: string;
}

/** What one run hands the next on continue-as-new: nothing pending may be dropped. */
export interface SnapshotCarry {
  current: SnapshotState | null;
  retiring: SnapshotState[];
  last: SnapshotState | null;
  deliveries: string[];
  /** Pull requests heard to have merged (pullRequestKey, src/contract/names.ts). */
  mergedPullRequests?: string[];
  /** Removals refused for good: the workflow still fails with them when it ends. */
  refusals?: string[];
}

const REMEMBERED_DELIVERIES = 200;

export class SnapshotWorkflowState {
  current: SnapshotState | null;
  retiring: SnapshotState[];
  last: SnapshotState | null;
  readonly deliveries: string[];
  readonly mergedPullRequests: string[];
  readonly refusals: string[];
  /** Registrations accepted and not answered yet: the workflow must not end or move on under them. */
  pendingRegistrations = 0;
  /** Cancelled: no registration is accepted any more. */
  closing = false;
  /**
   * The current image set aside while a registration that would replace it is checked against the
   * merge record: it ends (replaced) only once that registration is accepted, and is current again
   * if it is refused. Only ever set inside a registration, so never carried across continue-as-new.
   */
  aside: SnapshotState | null = null;
  /** An ending meant for the image set aside that arrived while it was aside: the first one. */
  asideEnding: { reason: EndReason; message: string } | null = null;
  /** The image accepted by a registration still being checked: not yet counted by the budget. */
  unadmitted: string | null = null;

  constructor(carry?: SnapshotCarry) {
    this.current = carry?.current ?? null;
    this.retiring = carry?.retiring ?? [];
    this.last = carry?.last ?? null;
    this.deliveries = carry?.deliveries ?? [];
    this.mergedPullRequests = carry?.mergedPullRequests ?? [];
    this.refusals = [...(carry?.refusals ?? [])];
  }

  /** The image the search attributes and details publish: the current one, else the last one leaving. */
  publishedImage(): SnapshotState | null {
    return this.current ?? this.retiring[this.retiring.length - 1] ?? this.last;
  }

  /** The state the search attributes publish: any blocked removal shows while no image is current. */
  publishedStatus(image: SnapshotState): SnapshotStatus {
    if (!this.current && this.retiring.some((r) => r.state === 'removal-blocked')) return 'removal-blocked';
    return image.state;
  }

  /** The newest state of an image that may be retiring. */
  latest(image: SnapshotState): SnapshotState {
    return this.retiring.find((r) => r.imageId === image.imageId) ?? image;
  }

  isRetiring(imageId: string): boolean {
    return this.retiring.some((r) => r.imageId === imageId);
  }

  /** No image leaving the disk and no registration under way. */
  drained(): boolean {
    return this.retiring.length === 0 && this.pendingRegistrations === 0;
  }

  accept(next: SnapshotState): void {
    this.current = next;
    this.last = next;
  }

  /** Updates the current image in place (links, references); the caller publishes. */
  amend(next: SnapshotState): void {
    this.current = next;
  }

  /** Whether the current image's last recorded use is younger than `everyMs` (none to record). */
  usedWithin(everyMs: number | undefined): boolean {
    const active = this.current;
    return !!active && typeof everyMs === 'number' && Date.now() - Date.parse(active.lastUsedAt) < everyMs;
  }

  /** A lookup's use: the last-used time, and a sliding TTL's new expiry. */
  touch(): SnapshotState {
    const active = this.current as SnapshotState;
    const now = nowIso();
    this.current = {
      ...active,
      lastUsedAt: now,
      expiresAt: active.slidingTtl ? plusSeconds(now, active.ttlSeconds) : active.expiresAt,
    };
    return this.current;
  }

  /** Sets the current image aside (see `aside`); the registration being checked takes its place. */
  setAside(): void {
    this.aside = this.current;
    this.asideEnding = null;
    this.current = null;
  }

  /** An ending meant for the image set aside: kept until the registration is decided. */
  endAside(reason: EndReason, message: string): void {
    if (this.aside && !this.asideEnding) this.asideEnding = { reason, message };
  }

  /**
   * The registration was refused: the image set aside is current again, and the ending it heard
   * meanwhile, if any, is returned for the caller to carry out.
   */
  restoreAside(): { reason: EndReason; message: string } | null {
    const ending = this.asideEnding;
    if (this.aside) this.accept(this.aside);
    this.aside = null;
    this.asideEnding = null;
    return ending;
  }

  /** The registration was accepted: the image set aside retires (replaced), and is returned. */
  retireAside(reason: EndReason, message: string): SnapshotState | null {
    const aside = this.aside;
    this.aside = null;
    this.asideEnding = null;
    if (!aside) return null;
    const ended: SnapshotState = { ...aside, state: 'invalidated', endReason: reason, message };
    this.retiring = [...this.retiring, ended];
    if (!this.current) this.last = ended;
    return ended;
  }

  /** Whether an event at `at` happened before this image was registered (see happenedBeforeCurrent). */
  static happenedBefore(image: SnapshotState, at: string | undefined): boolean {
    const t = at ? Date.parse(at) : NaN;
    return !Number.isNaN(t) && t < Date.parse(image.createdAt);
  }

  /** Retires the current image: it joins the images leaving the disk, and is returned. */
  end(reason: EndReason, message: string): SnapshotState | null {
    if (!this.current) return null;
    const ended: SnapshotState = { ...this.current, state: 'invalidated', endReason: reason, message };
    this.current = null;
    this.retiring = [...this.retiring, ended];
    this.last = ended;
    return ended;
  }

  replaceRetiring(imageId: string, next: SnapshotState): void {
    this.retiring = this.retiring.map((r) => (r.imageId === imageId ? next : r));
    this.last = next;
  }

  /** The image left the disk (or stays, kept): it is no longer retiring. */
  finish(ended: SnapshotState): void {
    this.retiring = this.retiring.filter((r) => r.imageId !== ended.imageId);
    this.last = ended;
  }

  /** The removal was refused for good: the workflow fails with it when it ends. */
  refuse(image: SnapshotState, message: string): void {
    this.refusals.push(`${image.imageId}: ${message}`);
    this.finish({ ...image, message: `removal refused: ${message}` });
  }

  /** False when this delivery was seen already (a redelivered webhook). */
  firstDelivery(delivery: string | undefined): boolean {
    if (!delivery) return true;
    if (this.deliveries.includes(delivery)) return false;
    this.deliveries.push(delivery);
    if (this.deliveries.length > REMEMBERED_DELIVERIES) this.deliveries.shift();
    return true;
  }

  /**
   * An event (a merge, a close) that happened before the current image was registered belongs to
   * earlier work; this also covers a redelivery that reaches a newer run, which no longer knows
   * the delivery id.
   */
  happenedBeforeCurrent(at: string | undefined): boolean {
    const t = at ? Date.parse(at) : NaN;
    return this.current !== null && !Number.isNaN(t) && t < Date.parse(this.current.createdAt);
  }

  view(): SnapshotWorkflowView {
    // An image set aside is still this workflow's (the reconciler's owner check reads this view):
    // it shows among the retiring ones, as it is, until the registration is decided.
    const retiring = this.aside ? [...this.retiring, this.aside] : this.retiring;
    return { current: this.current, retiring, last: this.last };
  }

  carry(): SnapshotCarry {
    return {
      current: this.current,
      retiring: this.retiring,
      last: this.last,
      deliveries: this.deliveries,
      mergedPullRequests: this.mergedPullRequests,
      refusals: this.refusals,
    };
  }
}
