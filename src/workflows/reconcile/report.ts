// One host's reconcile report: what the run found and did, image by image. Counts are exact; each
// list keeps its first REPORT_LIST_LIMIT entries (and each entry its first TAGS_PER_IMAGE_LIMIT
// holders), so the report stays small whatever the host holds. Pure: bundled into workflow code.
import type {
  BlockedImage,
  KeptImage,
  ManagedImage,
  ReconcileHostInput,
  ReconcileReport,
  SnapshotOwnerView,
  UnverifiedImage,
  VanishedSnapshot,
} from '../../contract/reconcile-types.js';
import { REPORT_LIST_LIMIT, TAGS_PER_IMAGE_LIMIT } from '../../contract/reconcile-types.js';

export function emptyReport(input: ReconcileHostInput, startedAt: string): ReconcileReport {
  return {
    host: input.host,
    startedAt,
    finishedAt: '',
    dryRun: input.dryRun,
    orphanGraceSeconds: input.orphanGraceSeconds,
    managedImages: 0,
    owned: 0,
    orphansRemoved: [],
    orphansKeptYoung: [],
    blocked: [],
    kept: [],
    vanished: [],
    unverified: [],
    repaired: [],
    counts: {
      orphansRemoved: 0,
      orphanBytesRemoved: 0,
      orphansKeptYoung: 0,
      blocked: 0,
      kept: 0,
      vanished: 0,
      unverified: 0,
      repaired: 0,
    },
    generations: 0,
    error: null,
  };
}

function keptImage(image: ManagedImage, references: string[], derived: boolean): KeptImage {
  return {
    imageId: image.imageId,
    tags: image.tags,
    projectId: image.projectId,
    workItemId: image.workItemId,
    references,
    reason: derived
      ? 'built from a snapshot (its labels declare a commit it is not): not a snapshot'
      : `named by reference(s) snapkeeper does not own: ${references.join(', ')}`,
  };
}

/** Adds to a report: each method counts one finding and lists it while its list has room. */
export class ReportRecorder {
  constructor(readonly report: ReconcileReport) {}

  private keep<T>(list: T[], item: T): void {
    if (list.length < REPORT_LIST_LIMIT) list.push(item);
  }

  owned(): void {
    this.report.owned++;
  }

  removed(image: ManagedImage): void {
    this.report.counts.orphansRemoved++;
    this.report.counts.orphanBytesRemoved += image.sizeBytes;
    this.keep(this.report.orphansRemoved, image);
  }

  /** What a batch of removals freed on the engine's disk, as its Docker worker measured it. */
  freed(bytes: number, measure: 'measured' | 'estimated'): void {
    const counts = this.report.counts;
    counts.orphanBytesFreed = (counts.orphanBytesFreed ?? 0) + bytes;
    if (measure === 'estimated')
      counts.orphanBytesFreedEstimated = (counts.orphanBytesFreedEstimated ?? 0) + bytes;
  }

  young(image: ManagedImage): void {
    this.report.counts.orphansKeptYoung++;
    this.keep(this.report.orphansKeptYoung, image);
  }

  blocked(item: BlockedImage): void {
    this.report.counts.blocked++;
    this.keep(this.report.blocked, { ...item, holders: item.holders.slice(0, TAGS_PER_IMAGE_LIMIT) });
  }

  kept(image: ManagedImage, references: string[], derived: boolean): void {
    this.report.counts.kept = (this.report.counts.kept ?? 0) + 1;
    this.keep(
      (this.report.kept ??= []),
      keptImage(image, references.slice(0, TAGS_PER_IMAGE_LIMIT), derived),
    );
  }

  vanished(item: VanishedSnapshot): void {
    this.report.counts.vanished++;
    this.keep(this.report.vanished, item);
  }

  unverified(item: UnverifiedImage): void {
    this.report.counts.unverified++;
    this.keep(this.report.unverified, item);
  }

  /** Owners that the describe activity repaired (reset) on its way. */
  repairedAmong(views: SnapshotOwnerView[]): void {
    for (const v of views) {
      if (!v.repaired) continue;
      this.report.counts.repaired = (this.report.counts.repaired ?? 0) + 1;
      this.keep((this.report.repaired ??= []), v.repaired);
    }
  }
}
