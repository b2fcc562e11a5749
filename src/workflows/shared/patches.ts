// Every patch id of the workflows, in one place, with what its old branch did, when it came in and
// which recorded history replays that old branch. Workflow code calls `usePatch(ID)` where it used
// to call `patched('id')`, at the same point of the run: a patch's marker is recorded where its
// call runs, so moving a call moves its marker (test/unit/workflow-replay.test.ts guards that).
//
// A patch lives in three steps (docs/operations.md, "Retiring a patch"): `patched()` in release N;
// `deprecatePatch()` from release N+1 once no run from before N can be open; gone one release
// later. `status` below is where that step is decided, for every call site at once.
import { deprecatePatch, patched, workflowInfo } from '@temporalio/workflow';

/** Registrations and merges are scoped to their pull request; a registration checks the merge record. */
export const PULL_REQUEST_SCOPE_PATCH = 'pull-request-scope';
/** Lookups are answered from the memo; the TTL timer is re-armed only when a touch is accepted. */
export const LOOKUPS_FROM_MEMO_PATCH = 'lookups-from-memo';
/** Cleanup invalidates and removes in one activity when nothing blocks. */
export const ONE_HOP_CLEANUP_PATCH = 'one-hop-cleanup';
/** Far from a host's limits, a registration tells the budget by signal instead of awaiting it. */
export const BUDGET_ADMISSION_BY_SIGNAL_PATCH = 'budget-admission-by-signal';
/** A cleanup step that waits on a silent host says so (removal-blocked, naming the host). */
export const CLEANUP_SHOWS_HOST_WAIT_PATCH = 'cleanup-shows-host-wait';
/** An image that ends tells its host's budget (the `release` signal). */
export const BUDGET_RELEASE_PATCH = 'budget-release';
/** The budget publishes its totals in the memo and takes admissions by signal. */
export const BUDGET_TOTALS_IN_MEMO_PATCH = 'budget-totals-in-memo';
/** The budget reads records keyed by project id through their own keys only. */
export const BUDGET_OWN_KEYS_PATCH = 'budget-own-keys';
/** A host's byte limit counts true bytes: layers only snapshots hold, each once (issue 21). */
export const BUDGET_TRUE_BYTES_PATCH = 'budget-true-bytes';
/** A registration refused because its pull request merged leaves the current image current. */
export const REFUSED_REGISTRATION_KEEPS_CURRENT_PATCH = 'refused-registration-keeps-current';
/** A link refused as merged ends the image it amended even while a registration has set it aside. */
export const MERGED_LINK_ENDS_ASIDE_PATCH = 'merged-link-ends-aside';
/** The reconciler's results (each host's report, the whole) stay under a fixed size. */
export const RECONCILE_RESULTS_BOUNDED_PATCH = 'reconcile-results-bounded';
/** A registration whose image's cleanup finished while the host inspected it asks the host again. */
export const REINSPECT_AFTER_CLEANUP_PATCH = 'reinspect-after-cleanup';
/** A link made while a registration is checked reaches the image set aside too. */
export const LINK_REACHES_ASIDE_PATCH = 'link-reaches-aside';
/** An invalidateImage update naming no image ends the image set aside too, if it comes back. */
export const UNSCOPED_INVALIDATION_REACHES_ASIDE_PATCH = 'unscoped-invalidation-reaches-aside';
/** A registration checks its image again where it acts on the inspection (not only after it). */
export const REGISTRATION_CHECKED_WHERE_IT_ACTS_PATCH = 'registration-checked-where-it-acts';
/**
 * The budget says when the disk stays over its watermarks with nothing left to evict (the
 * decision's diskShortfall, a warning, the host told), and when that is over.
 */
export const BUDGET_DISK_SHORTFALL_PATCH = 'budget-disk-shortfall';
/** A pull request workflow makes all its looks in one activity that waits between them (issue 19). */
export const PULL_REQUEST_LOOKS_IN_ONE_ACTIVITY_PATCH = 'pull-request-looks-in-one-activity';
/**
 * The budget's decisions at fewer activities (issue 19): no second measure of the host that a count
 * decision cannot use; a disk shortfall counts the host in full first (registrations far from every
 * limit no longer tell the budget).
 */
export const BUDGET_LEAN_DECISIONS_PATCH = 'budget-lean-decisions';

/**
 * The snapshot workflow's lifecycle at fewer actions (issue 19): no empty memo at a fresh run's
 * first task, no search attribute upsert for the seconds between an ending and its removal, one
 * upsert of each kind per workflow task, and a silent host noticed by the cleanup step's
 * schedule-to-start timeout instead of a timer started with every step.
 */
export const LEAN_LIFECYCLE_PATCH = 'lean-lifecycle';
/**
 * The snapshot and budget workflows record their decision to continue as new (a marker), so the
 * workflow task it was taken in is kept and replayed (issue 17: in a rejected update's speculative
 * task, the decision was dropped with the task, or kept but never replayed).
 */
export const CONTINUE_AS_NEW_DECISION_RECORDED_PATCH = 'continue-as-new-decision-recorded';

export type PatchId =
  | typeof PULL_REQUEST_SCOPE_PATCH
  | typeof LOOKUPS_FROM_MEMO_PATCH
  | typeof ONE_HOP_CLEANUP_PATCH
  | typeof BUDGET_ADMISSION_BY_SIGNAL_PATCH
  | typeof CLEANUP_SHOWS_HOST_WAIT_PATCH
  | typeof BUDGET_RELEASE_PATCH
  | typeof BUDGET_TOTALS_IN_MEMO_PATCH
  | typeof BUDGET_OWN_KEYS_PATCH
  | typeof BUDGET_TRUE_BYTES_PATCH
  | typeof REFUSED_REGISTRATION_KEEPS_CURRENT_PATCH
  | typeof MERGED_LINK_ENDS_ASIDE_PATCH
  | typeof RECONCILE_RESULTS_BOUNDED_PATCH
  | typeof BUDGET_DISK_SHORTFALL_PATCH
  | typeof PULL_REQUEST_LOOKS_IN_ONE_ACTIVITY_PATCH
  | typeof BUDGET_LEAN_DECISIONS_PATCH
  | typeof REINSPECT_AFTER_CLEANUP_PATCH
  | typeof LINK_REACHES_ASIDE_PATCH
  | typeof UNSCOPED_INVALIDATION_REACHES_ASIDE_PATCH
  | typeof REGISTRATION_CHECKED_WHERE_IT_ACTS_PATCH
  | typeof LEAN_LIFECYCLE_PATCH
  | typeof CONTINUE_AS_NEW_DECISION_RECORDED_PATCH;

export interface PatchRecord {
  /** The workflow type(s) whose code calls it, and the file. */
  workflow: string;
  /** What a run recorded before the patch does on replay (the branch `usePatch` returns false for). */
  oldBranch: string;
  /** The commit that brought it in, its date, and the first release that carried it. */
  since: { commit: string; date: string; release: string };
  /**
   * Recorded histories (paths under test/fixtures/histories/) written by code from before the
   * patch that reach its call without its marker: they replay its old branch while it is live.
   * Empty: none recorded.
   */
  oldBranchFixtures: readonly string[];
  /**
   * Those of them whose old branch schedules other commands than the new one, so that they fail
   * to replay once the patch is deprecated (measured by replaying each with only this patch
   * deprecated). A fixture in the first list but not here replays either branch alike: it proves
   * the marker-less replay, not the old branch's commands.
   */
  brokenByDeprecation: readonly string[];
  /**
   * `live`: `patched()`, both branches replay. `deprecated`: `deprecatePatch()`, every run takes
   * the new branch, and the histories above no longer replay (the replay test expects that).
   */
  status: 'live' | 'deprecated';
  /** For a live patch that no recorded history replays the old branch of: why none is recorded. */
  noFixture?: string;
  /** Why the status is what it is. */
  why: string;
}

// The patches from before 0.1.0 came in on 2026-11-28, before the first release (0.1.0, db14c84,
// 2026-12-07), which carried them: every run a release started records their markers, and only a
// development build of before them started runs that take their old branch (the top-level
// fixtures are such runs). 0.1.0 is their release N, so the release after 0.2.0 deprecates them.
// The patches of 0.2.0 stay live: runs that 0.1.0 started the same day may run for months.
const BEFORE_FIRST_RELEASE =
  'Came in before 0.1.0, the first release: no release started a run without its marker. Deprecated ' +
  "after 0.2.0; before the rollout, operators check that no run from before 0.1.0's rollout is open.";
const SINCE_0_2_0 =
  'Came in with 0.2.0: runs that 0.1.0 started (a snapshot lives up to 90 days, longer while lookups ' +
  'slide it) take its old branch until they end. Deprecate once no run from before 0.2.0 is open.';
// The patches of the release after 0.2.0 (`since.release: 'next'`) stay live for the same reason.
const SINCE_NEXT = 'New in the release after 0.2.0: runs of 0.2.0 and before take its old branch.';

// The registration-race patches (a handler that runs while a registration is checked) have no
// recorded history of their old branch for one reason: recordings are plain lifecycles, and the
// race needs two handlers in one window. The workflow specification runs both sides instead.
function raceNoFixture(callRunsOnlyWhen: string): string {
  return (
    `Its call runs only when ${callRunsOnlyWhen}; no recorded history has that race ` +
    '(test/workflow/registration-races.spec.test.ts runs it).'
  );
}

// Every budget history recorded reaches budget-lean-decisions' call (the first task) without its
// marker, and each one's decisions measured the host twice: none replays once it is deprecated.
const BUDGET_FIXTURES = [
  'budget_replay.pb',
  'db14c84/budget_replay.pb',
  '27f0425/budget_replay.pb',
  '0b542d6/budget_replay.pb',
  'db14c84-own-keys/budget_replay.pb',
];

// Every snapshot history of the releases recorded (0.2.0, 0.1.0 and 27f0425 before it) reaches
// lean-lifecycle's call (the first task) without its marker, and each one's first task upserts the
// empty memo the new branch leaves out: measured, all 36 fail to replay with the patch deprecated.
const SNAPSHOT_RECORDINGS = [
  'blocked',
  'continued',
  'ends',
  'expired',
  'merges',
  'open',
  'refused',
  'rollback',
  'touched',
  'used',
  'usedopen',
];
const LEAN_OLD_BRANCH_FIXTURES = [
  ...['0b542d6', 'db14c84', '27f0425'].flatMap((release) =>
    SNAPSHOT_RECORDINGS.map((name) => `${release}/snapshot_rec_${name}.pb`),
  ),
  '0b542d6/snapshot_rec_continued-01a2527f.pb',
  'db14c84/snapshot_rec_continued-01a251b7.pb',
  '27f0425/snapshot_rec_continued-01a251b4.pb',
];

// The first run of each recorded continue-as-new reaches continue-as-new-decision-recorded's call
// without its marker (measured: a throw at the call fails these and no other history).
const CONTINUED_FIRST_RUNS = [
  '0b542d6/snapshot_rec_continued-01a2527f.pb',
  'db14c84/snapshot_rec_continued-01a251b7.pb',
  '27f0425/snapshot_rec_continued-01a251b4.pb',
];

export const PATCHES: Readonly<Record<PatchId, PatchRecord>> = {
  [PULL_REQUEST_SCOPE_PATCH]: {
    workflow: 'snapshotWorkflow',
    oldBranch:
      'a merge ends the current image whatever pull request it names; no merge check at registration',
    since: { commit: '4b9e33d', date: '2026-11-28', release: '0.1.0' },
    oldBranchFixtures: [],
    brokenByDeprecation: [],
    status: 'deprecated',
    why: BEFORE_FIRST_RELEASE,
  },
  [LOOKUPS_FROM_MEMO_PATCH]: {
    workflow: 'snapshotWorkflow',
    oldBranch: 'no memo; every touch accepted and the TTL timer re-armed on each',
    since: { commit: 'ca3e6a3', date: '2026-11-28', release: '0.1.0' },
    oldBranchFixtures: [
      'snapshot_rec_blocked.pb',
      'snapshot_rec_expired.pb',
      'snapshot_rec_open.pb',
      'snapshot_rec_touched.pb',
    ],
    brokenByDeprecation: [
      'snapshot_rec_blocked.pb',
      'snapshot_rec_expired.pb',
      'snapshot_rec_open.pb',
      'snapshot_rec_touched.pb',
    ],
    status: 'deprecated',
    why: BEFORE_FIRST_RELEASE,
  },
  [ONE_HOP_CLEANUP_PATCH]: {
    workflow: 'snapshotWorkflow',
    oldBranch: 'the cleanup as two activities (invalidate, then remove)',
    since: { commit: 'ca3e6a3', date: '2026-11-28', release: '0.1.0' },
    oldBranchFixtures: ['snapshot_rec_blocked.pb', 'snapshot_rec_expired.pb', 'snapshot_rec_touched.pb'],
    brokenByDeprecation: ['snapshot_rec_blocked.pb', 'snapshot_rec_expired.pb', 'snapshot_rec_touched.pb'],
    status: 'deprecated',
    why: BEFORE_FIRST_RELEASE,
  },
  [BUDGET_ADMISSION_BY_SIGNAL_PATCH]: {
    workflow: 'snapshotWorkflow',
    oldBranch: "the budget's admission awaited by every registration",
    since: { commit: 'ca3e6a3', date: '2026-11-28', release: '0.1.0' },
    oldBranchFixtures: [],
    brokenByDeprecation: [],
    status: 'deprecated',
    why: BEFORE_FIRST_RELEASE,
  },
  [CLEANUP_SHOWS_HOST_WAIT_PATCH]: {
    workflow: 'snapshotWorkflow',
    oldBranch: 'the cleanup without the timer that reports a silent host',
    since: { commit: '7e77af6', date: '2026-11-28', release: '0.1.0' },
    oldBranchFixtures: [],
    brokenByDeprecation: [],
    status: 'deprecated',
    why: BEFORE_FIRST_RELEASE,
  },
  [BUDGET_RELEASE_PATCH]: {
    workflow: 'snapshotWorkflow',
    oldBranch: "no `release` signal to the host's budget when the image ends",
    since: { commit: '5442a7f', date: '2026-11-28', release: '0.1.0' },
    oldBranchFixtures: [],
    brokenByDeprecation: [],
    status: 'deprecated',
    why: BEFORE_FIRST_RELEASE,
  },
  [BUDGET_TOTALS_IN_MEMO_PATCH]: {
    workflow: 'budgetWorkflow',
    oldBranch: 'no memo, no admissions by signal',
    since: { commit: 'ca3e6a3', date: '2026-11-28', release: '0.1.0' },
    oldBranchFixtures: ['budget_replay.pb'],
    brokenByDeprecation: ['budget_replay.pb'],
    status: 'deprecated',
    why: BEFORE_FIRST_RELEASE,
  },
  [BUDGET_OWN_KEYS_PATCH]: {
    workflow: 'budgetWorkflow',
    oldBranch: 'records keyed by project id read through the object prototype',
    since: { commit: '3f95855', date: '2026-12-07', release: '0.2.0' },
    oldBranchFixtures: [
      'db14c84/budget_replay.pb',
      '27f0425/budget_replay.pb',
      'db14c84-own-keys/budget_replay.pb',
    ],
    brokenByDeprecation: ['db14c84-own-keys/budget_replay.pb'],
    status: 'live',
    why: SINCE_0_2_0,
  },
  [BUDGET_TRUE_BYTES_PATCH]: {
    workflow: 'budgetWorkflow (budget/decision.ts)',
    oldBranch: "the byte limit counts each snapshot's image size; no trueBytes asked of the host",
    since: { commit: 'unreleased', date: '2026-12-08', release: 'next' },
    oldBranchFixtures: [],
    brokenByDeprecation: [],
    status: 'live',
    why: SINCE_NEXT,
    noFixture:
      'Its call runs only in a decision of a host with a byte limit (SNAPKEEPER_MAX_BYTES); no ' +
      'recorded budget history has one (unit test/unit/true-bytes.test.ts plans with both counts; ' +
      'test/integration/true-bytes.test.ts runs the new one on a real engine).',
  },
  [REFUSED_REGISTRATION_KEEPS_CURRENT_PATCH]: {
    workflow: 'snapshotWorkflow',
    oldBranch:
      'a registration linked to a merged pull request ended the current image before the merge check',
    since: { commit: '9aea646', date: '2026-12-07', release: '0.2.0' },
    oldBranchFixtures: ['db14c84/snapshot_rec_merges.pb', '27f0425/snapshot_rec_merges.pb'],
    brokenByDeprecation: ['db14c84/snapshot_rec_merges.pb', '27f0425/snapshot_rec_merges.pb'],
    status: 'live',
    why: SINCE_0_2_0,
  },
  [MERGED_LINK_ENDS_ASIDE_PATCH]: {
    workflow: 'snapshotWorkflow (snapshot/registration.ts)',
    oldBranch:
      'a link refused as merged while a registration had set its image aside ended nothing; a refused ' +
      'registration then gave that image back, current and linked to the merged pull request',
    since: { commit: 'unreleased', date: '2026-12-08', release: 'next' },
    oldBranchFixtures: [],
    brokenByDeprecation: [],
    status: 'live',
    why: SINCE_NEXT,
    noFixture: raceNoFixture(
      'a link to a merged pull request is checked across the start of a registration linked to ' +
        'another pull request',
    ),
  },
  [RECONCILE_RESULTS_BOUNDED_PATCH]: {
    workflow: 'reconcileWorkflow, reconcileHostWorkflow',
    oldBranch: 'the whole report of every host in one result, unbounded',
    since: { commit: 'd20079b', date: '2026-12-07', release: '0.2.0' },
    oldBranchFixtures: [
      'db14c84/rec-reconcile.pb',
      'db14c84/rec-reconcile_replay.pb',
      '27f0425/rec-reconcile.pb',
      '27f0425/rec-reconcile_replay.pb',
    ],
    brokenByDeprecation: [],
    status: 'live',
    why: SINCE_0_2_0,
  },
  [BUDGET_DISK_SHORTFALL_PATCH]: {
    workflow: 'budgetWorkflow (budget/host-budget.ts)',
    oldBranch: 'no diskShortfall in the decision and no warning; the host told only of evictions and checks',
    since: { commit: 'unreleased', date: '2026-12-07', release: 'next' },
    oldBranchFixtures: [],
    brokenByDeprecation: [],
    status: 'live',
    why: SINCE_NEXT,
    noFixture:
      'Its call runs only when a disk stays over its watermarks with nothing to evict; no recorded ' +
      'budget history has that (the spec test budget-disk-shortfall.spec.test.ts runs both sides).',
  },
  [PULL_REQUEST_LOOKS_IN_ONE_ACTIVITY_PATCH]: {
    workflow: 'pullRequestClosedWorkflow (pull-request/workflow.ts)',
    oldBranch: 'each look its own activity (signalPullRequestTargets), with a timer before each later look',
    since: { commit: 'unreleased', date: '2026-12-08', release: 'next' },
    oldBranchFixtures: [
      'db14c84/pull-request_rec_2Frepo_1_merged.pb',
      '27f0425/pull-request_rec_2Frepo_1_merged.pb',
      '0b542d6/pull-request_rec_2Frepo_1_merged.pb',
    ],
    brokenByDeprecation: [
      'db14c84/pull-request_rec_2Frepo_1_merged.pb',
      '27f0425/pull-request_rec_2Frepo_1_merged.pb',
      '0b542d6/pull-request_rec_2Frepo_1_merged.pb',
    ],
    status: 'live',
    why:
      'New in the release after 0.2.0: a pull request workflow lives about a minute, so it can be ' +
      'deprecated in the release after this one.',
  },
  [BUDGET_LEAN_DECISIONS_PATCH]: {
    workflow: 'budgetWorkflow (budget/workflow.ts; decision.ts takes its branch)',
    oldBranch:
      'every decision that settles measures the host twice; a disk shortfall is concluded from the ' +
      'snapshots known, without a full count',
    since: { commit: 'unreleased', date: '2026-12-08', release: 'next' },
    oldBranchFixtures: BUDGET_FIXTURES,
    brokenByDeprecation: BUDGET_FIXTURES,
    status: 'live',
    why:
      'New in the release after 0.2.0: budget runs of 0.2.0 and before take its old branch until ' +
      'they continue as new.',
  },
  [REINSPECT_AFTER_CLEANUP_PATCH]: {
    workflow: 'snapshotWorkflow (snapshot/registration.ts)',
    oldBranch:
      "a registration accepted the host's answer about an image whose cleanup finished while the host " +
      'answered: the image was current again though removed from the disk',
    since: { commit: 'unreleased', date: '2026-12-08', release: 'next' },
    oldBranchFixtures: [],
    brokenByDeprecation: [],
    status: 'live',
    why: SINCE_NEXT,
    noFixture: raceNoFixture(
      "an image's whole cleanup fits inside the inspection of a registration of that same image",
    ),
  },
  [LINK_REACHES_ASIDE_PATCH]: {
    workflow: 'snapshotWorkflow (snapshot/registration.ts, called from keeper.ts)',
    oldBranch:
      'a link made while a registration was checked amended only the image being checked; a refused ' +
      'registration gave the image set aside back without the link, and its merge ended nothing',
    since: { commit: 'unreleased', date: '2026-12-08', release: 'next' },
    oldBranchFixtures: [],
    brokenByDeprecation: [],
    status: 'live',
    why: SINCE_NEXT,
    noFixture: raceNoFixture('a link arrives while a registration linked to a pull request is checked'),
  },
  [UNSCOPED_INVALIDATION_REACHES_ASIDE_PATCH]: {
    workflow: 'snapshotWorkflow (snapshot/registration.ts, called from keeper.ts)',
    oldBranch:
      'an invalidateImage update naming no image, while a registration was checked, ended only the ' +
      'image being checked; a refused registration gave the image set aside back, current',
    since: { commit: 'unreleased', date: '2026-12-08', release: 'next' },
    oldBranchFixtures: [],
    brokenByDeprecation: [],
    status: 'live',
    why: SINCE_NEXT,
    noFixture: raceNoFixture(
      'an unscoped invalidateImage update arrives while a registration linked to a pull request is checked',
    ),
  },
  [REGISTRATION_CHECKED_WHERE_IT_ACTS_PATCH]: {
    workflow: 'snapshotWorkflow (snapshot/registration.ts)',
    oldBranch:
      'a registration accepted an image that another handler ended (and began to remove) in the same ' +
      'workflow activation, after the inspection was checked and before the registration acted on it',
    since: { commit: 'unreleased', date: '2026-12-08', release: 'next' },
    oldBranchFixtures: [],
    brokenByDeprecation: [],
    status: 'live',
    why: SINCE_NEXT,
    noFixture: raceNoFixture(
      "a registration's inspection and an ending of the same image are answered in one workflow task",
    ),
  },
  [LEAN_LIFECYCLE_PATCH]: {
    workflow: 'snapshotWorkflow (snapshot/core.ts; publisher.ts and cleanup.ts take its branch)',
    oldBranch:
      "an empty memo at a fresh run's first task; the `invalidated` state upserted at every ending; " +
      'a memo and an attribute upsert per change, several per task; a 30 s timer beside every cleanup step; ' +
      "every registration told its host's budget (snapshot/budget.ts), even one no count or byte limit applies to",
    since: { commit: 'unreleased', date: '2026-12-08', release: 'next' },
    oldBranchFixtures: LEAN_OLD_BRANCH_FIXTURES,
    brokenByDeprecation: LEAN_OLD_BRANCH_FIXTURES,
    status: 'live',
    why: SINCE_NEXT,
  },
  [CONTINUE_AS_NEW_DECISION_RECORDED_PATCH]: {
    workflow: 'snapshotWorkflow (snapshot/workflow.ts), budgetWorkflow (budget/workflow.ts)',
    oldBranch:
      'no marker where a run decides to continue as new; the same commands otherwise. Decided in the ' +
      'speculative task of a rejected update, the decision was dropped with the task (none of its own ' +
      'commands yet) or kept but never replayed (a timer cancelled, the continue-as-new): replay failed',
    since: { commit: 'unreleased', date: '2026-12-08', release: 'next' },
    oldBranchFixtures: CONTINUED_FIRST_RUNS,
    brokenByDeprecation: [],
    status: 'live',
    why:
      'New in the release after 0.2.0: runs of 0.2.0 and before take its old branch. Its old branch ' +
      'differs only by the marker: with it deprecated every recorded history still replays (measured).',
  },
};

/**
 * Whether this run takes the patch's new branch. A live patch is `patched()`: true for new runs
 * (recording its marker), false on replay of a history from before it. A deprecated patch is
 * always true: its old branch is dead, to be deleted with the call one release later; its
 * `deprecatePatch()` runs only while replaying (below).
 *
 * Why a deprecated patch is called only while replaying (issue 19: each marker the SDK records
 * costs a billable `TemporalChangeVersion` upsert and two events, in every run, for nothing):
 * - A new run records no marker, so the call must make no command: not calling it makes none.
 * - Histories of earlier releases hold the marker NOT deprecated, and such a marker without a
 *   matching call is a nondeterminism error. Every marker in a history was written by a workflow
 *   task that completed before this worker saw the history, so a worker meets it while replaying
 *   (core tells the workflow of the markers of each task it replays, before that task's code
 *   runs), and there the call is made and matches it, as in the release that wrote it.
 * - A replayed history without the marker (a run of this code, taken up again after a restart or
 *   a cache eviction): the SDK's patchInternal returns false with no command and remembers no
 *   decision while replaying and the marker is absent, so the call changes nothing; the run
 *   takes the new branch whatever the call returns, as it did when it ran live.
 * - A cached run going from replay to live: the tasks it replayed held every marker there is;
 *   the live tasks after them are new, and the code makes no call there, as any new run.
 * - Workers of the previous code replaying a run of this code (a rollback) call
 *   `deprecatePatch()` there: no marker, no command, the same.
 * test/unit/workflow-replay.test.ts replays every release's histories through this, and
 * test/workflow/lean-lifecycle.spec.test.ts replays a run of this code and counts its events.
 */
export function usePatch(id: PatchId): boolean {
  if (PATCHES[id].status === 'deprecated') {
    if (workflowInfo().unsafe.isReplaying) deprecatePatch(id);
    return true;
  }
  return patched(id);
}

/**
 * A live patch in a run whose input says it was started by code that has the patch
 * (src/contract/run-generation.ts): the run takes the new branch without recording the marker
 * (no command, so no `TemporalChangeVersion` upsert and two events fewer). Returns true when the
 * history holds the marker after all: a worker of the previous code took up the run's first task
 * (a rolling deploy) and recorded it, and its code knew nothing of the generation; the call here
 * matches that marker while replaying (a marker without a call is a nondeterminism error), and
 * the caller keeps to what that worker did. Live it records nothing and returns false, and a
 * replay of such a run finds no marker and returns false (patchInternal remembers no decision
 * while replaying without the marker), as `usePatch` relies on for deprecated patches.
 */
export function markedByEarlierWorker(id: PatchId): boolean {
  return workflowInfo().unsafe.isReplaying && patched(id);
}
