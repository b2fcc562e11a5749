// `snapkeeper explain`'s decision (src/service/explain-image.ts) from hand-made facts: one case per
// verdict, the reconciler's order between them, and the orphan's timing.
import { describe, expect, it } from 'vitest';
import { commitComment } from '../../src/contract/image-references.js';
import {
  LABEL_COMMIT,
  LABEL_REFERENCE,
  keptTag,
  managedLabels,
  reapingTag,
  snapshotWorkflowId,
} from '../../src/contract/names.js';
import type { SnapshotState, SnapshotWorkflowView } from '../../src/contract/snapshot-types.js';
import type { BudgetView } from '../../src/contract/budget-types.js';
import type { ExplainFacts, ExplainScheduleFacts } from '../../src/service/explain-facts.js';
import { explainImage } from '../../src/service/explain-image.js';
import { leaseOfImage } from '../../src/service/explain-lease.js';
import { reapingTime } from '../../src/service/explain-reaping.js';

const NOW = '2026-12-07T12:00:00.000Z';
const ID = `sha256:${'a'.repeat(64)}`;
const OTHER_ID = `sha256:${'b'.repeat(64)}`;
const WF = snapshotWorkflowId('p', 'w');
const LEASE = '0b6f7c1e-4a2d-4c8e-9f3a-5d6e7f8a9b0c';
const minutes = (m: number) => new Date(Date.parse(NOW) + m * 60_000).toISOString();

const schedule = (over: Partial<ExplainScheduleFacts> = {}): ExplainScheduleFacts => ({
  scheduleId: 'snapkeeper-reconcile-h1',
  presence: 'found',
  error: null,
  graceSeconds: 600,
  intervalMs: 300_000,
  nextRuns: [minutes(2), minutes(7), minutes(12)],
  paused: false,
  ...over,
});

function facts(over: Partial<ExplainFacts> = {}, labels: Record<string, string> = managedLabels('p', 'w')) {
  const base: ExplainFacts = {
    ref: 'snap/p:w',
    hostId: 'h1',
    engine: 'unix:///run/docker.sock',
    now: NOW,
    image: {
      id: ID,
      repoTags: ['snap/p:w'],
      repoDigests: [],
      labels,
      comment: '',
      createdAt: minutes(-60),
      sizeBytes: 2_000_000,
    },
    containers: [],
    children: [],
    owner: {
      workflowId: WF,
      presence: { status: 'not-found' },
      view: null,
      queryError: null,
      lastState: null,
    },
    lease: null,
    budget: null,
    schedule: schedule(),
    configGraceSeconds: 1800,
  };
  return { ...base, ...over };
}

function state(over: Partial<SnapshotState> = {}): SnapshotState {
  return {
    projectId: 'p',
    workItemId: 'w',
    image: 'snap/p:w',
    imageId: ID,
    host: 'h1',
    state: 'active',
    createdAt: minutes(-60),
    expiresAt: minutes(60),
    lastUsedAt: minutes(-10),
    sizeBytes: 2_000_000,
    ttlSeconds: 7200,
    slidingTtl: false,
    pullRequest: { repository: 'o/r', number: 7 },
    endReason: null,
    blockedBy: null,
    message: null,
    references: ['snap/p:w'],
    ...over,
  };
}

const running = (view: SnapshotWorkflowView | null) => ({
  workflowId: WF,
  presence: { status: 'running' as const },
  view,
  queryError: null,
  lastState: null,
});

function budgetView(over: Partial<BudgetView> = {}): BudgetView {
  return {
    hostId: 'h1',
    entries: [
      {
        workflowId: snapshotWorkflowId('p', 'cold'),
        projectId: 'p',
        imageId: OTHER_ID,
        sizeBytes: 1_000_000,
        createdAt: minutes(-120),
        lastUsedAt: minutes(-100),
      },
      {
        workflowId: WF,
        projectId: 'p',
        imageId: ID,
        sizeBytes: 2_000_000,
        createdAt: minutes(-60),
        lastUsedAt: minutes(-10),
      },
    ],
    complete: true,
    totals: { count: 2, bytes: 3_000_000, projectCounts: { p: 2 } },
    pending: [],
    evictionsTotal: 0,
    lastDecision: {
      at: minutes(-5),
      trigger: 'admit',
      workflowId: WF,
      evicted: [],
      usage: { snapshots: 2, bytes: 3_000_000, diskUsedPercent: 40, diskEstimatedPercent: 40 },
      limits: { maxSnapshots: 5, diskHighPercent: 85, diskLowPercent: 80, projectMaxSnapshots: {} },
    },
    ...over,
  };
}

describe('explain: one verdict per kind of image', () => {
  it('unmanaged: no managed label, whatever else it carries; nothing from Temporal is needed', () => {
    const e = explainImage(facts({ owner: null, schedule: null }, {}));
    expect(e.verdict).toBe('unmanaged');
    expect(e.reasons[0]).toContain('will never remove, untag or evict it');
    expect(e.references).toBeNull();
    expect(e.reaping).toBeNull();
    // A label with another value is not the managed label.
    expect(explainImage(facts({}, { 'io.snapkeeper.managed': 'yes' })).verdict).toBe('unmanaged');
  });

  it('held: the running owner holds it as its current image; its end, its budget rank and next rule', () => {
    const e = explainImage(
      facts({
        owner: running({ current: state(), retiring: [], last: null }),
        budget: {
          workflowId: 'budget:h1',
          presence: { status: 'running' },
          view: budgetView(),
          queryError: null,
        },
      }),
    );
    expect(e.verdict).toBe('held');
    expect(e.owner).toMatchObject({ workflowId: WF, status: 'running', holds: 'current' });
    expect(e.reasons[0]).toBe(
      `workflow ${WF} (running) holds it as the current snapshot of p/w, state active`,
    );
    expect(e.reasons.join('\n')).toContain('the merge of o/r#7');
    expect(e.budget).toMatchObject({ rank: 2, snapshots: 2 });
    // Count limit 5 with 2 snapshots: 3 registrations fill it, the 4th evicts the coldest, the 5th this one.
    expect(e.budget?.next).toMatchObject({ limit: 'count', registrationsBefore: 5 });
    expect(e.reasons).toContain(
      'next budget rule to evict it: host h1 may keep 5 snapshot(s) and has 2: it goes after 5 more registration(s) on the host',
    );
    expect(e.reaping).toBeNull();
  });

  it('held with a reference snapkeeper does not own: said, since the image will then stay as kept', () => {
    const f = facts({ owner: running({ current: state(), retiring: [], last: null }) });
    f.image.repoTags = ['snap/p:w', 'promoted/base:1'];
    const e = explainImage(f);
    expect(e.verdict).toBe('held');
    expect(e.references).toMatchObject({ owned: ['snap/p:w'], foreign: ['promoted/base:1'] });
    expect(e.reasons.join('\n')).toContain('promoted/base:1 also name(s) it');
  });

  it('leaving: the running owner is removing it, and a container blocks the removal', () => {
    const f = facts({
      owner: running({
        current: null,
        retiring: [
          state({ state: 'removal-blocked', endReason: 'invalidated', blockedBy: 'container c1 uses it' }),
        ],
        last: null,
      }),
      containers: [{ id: 'c1'.padEnd(64, '0'), names: ['/job-1'], state: 'exited' }],
    });
    const e = explainImage(f);
    expect(e.verdict).toBe('leaving');
    expect(e.owner?.holds).toBe('retiring');
    expect(e.reasons[0]).toContain(
      'is removing it: the snapshot of p/w ended (invalidated) and is removal-blocked',
    );
    expect(e.reasons.join('\n')).toContain('job-1 (exited)');
  });

  it('unverified: the owner runs but does not answer its query; the reconciler keeps it', () => {
    const e = explainImage(
      facts({ owner: { ...running(null), queryError: 'workflow task failed: nondeterminism' } }),
    );
    expect(e.verdict).toBe('unverified');
    expect(e.reasons[0]).toContain('nondeterminism');
  });

  it('kept: a tag no snapkeeper rule attributes (two raw tags), with why no workflow holds it', () => {
    const f = facts({
      owner: {
        workflowId: WF,
        presence: { status: 'closed', closeStatus: 'terminated' },
        view: null,
        queryError: null,
        lastState: 'active',
      },
    });
    f.image.repoTags = ['snap/p:w', 'debug/keep:1'];
    const e = explainImage(f);
    expect(e.verdict).toBe('kept');
    expect(e.reasons[0]).toBe(
      `its workflow ${WF} is terminated (last state active): a closed workflow holds nothing`,
    );
    expect(e.references?.foreign).toEqual(['snap/p:w', 'debug/keep:1']);
  });

  it('kept: a snapshot that ended as kept names the kept tag; an image built FROM a snapshot is kept for good', () => {
    const f = facts();
    f.image.repoTags = [keptTag(ID), 'promoted/base:1'];
    const e = explainImage(f);
    expect(e.verdict).toBe('kept');
    expect(e.reasons.join('\n')).toContain('its snapshot ended as kept');

    const derived = facts(
      {},
      { ...managedLabels('p', 'w'), [LABEL_COMMIT]: 'c1', [LABEL_REFERENCE]: 'snap/p:w' },
    );
    derived.image.repoTags = ['app/built:1'];
    derived.image.comment = '';
    const d = explainImage(derived);
    expect(d.verdict).toBe('kept');
    expect(d.references?.derived).toBe(true);
    expect(d.reasons.join('\n')).toContain('built FROM a snapshot');
  });

  it('leased: a live lease of its own work item protects an orphan whatever its age, and says what follows', () => {
    const f = facts({
      lease: {
        leaseId: LEASE,
        workflowId: `lease:${LEASE}`,
        answer: { state: 'live', lease: { projectId: 'p', workItemId: 'w', expiresAt: minutes(10) } },
      },
    });
    f.image.labels = { ...f.image.labels, 'io.snapkeeper.lease': LEASE };
    const e = explainImage(f);
    expect(e.verdict).toBe('leased');
    expect(e.lease).toMatchObject({ leaseId: LEASE, state: 'live', protects: true, expiresAt: minutes(10) });
    expect(e.reasons[1]).toContain(`workflow lease:${LEASE} runs, until ${minutes(10)} at the latest`);
    expect(e.reasons[2]).toContain('when the lease ends');
    expect(e.reaping?.runAt).toBe(minutes(2));
    // A lease that cannot be asked keeps the image, as the reconciler does.
    const unchecked = explainImage({
      ...f,
      lease: {
        leaseId: LEASE,
        workflowId: `lease:${LEASE}`,
        answer: { state: 'unchecked', error: 'deadline exceeded' },
      },
    });
    expect(unchecked.verdict).toBe('leased');
    expect(unchecked.reasons[1]).toContain('could not be checked (deadline exceeded)');
  });

  it('orphan: an ended lease, a live lease of another work item, a malformed label protect nothing', () => {
    const ended = explainImage(
      facts({
        lease: {
          leaseId: LEASE,
          workflowId: `lease:${LEASE}`,
          answer: { state: 'ended', status: 'TIMED_OUT' },
        },
      }),
    );
    expect(ended.verdict).toBe('orphan');
    expect(ended.reasons[0]).toContain('was never registered');
    expect(ended.reasons[1]).toBe(
      `its lease ${LEASE} has ended (workflow lease:${LEASE}: timed_out): it protects nothing`,
    );
    // Created an hour ago, grace 10m (the schedule's, not the configuration's 30m): the next run.
    expect(ended.reaping).toMatchObject({
      graceSeconds: 600,
      graceFrom: 'schedule',
      runAt: minutes(2),
      noRun: null,
    });

    const foreign = explainImage(
      facts({
        lease: {
          leaseId: LEASE,
          workflowId: `lease:${LEASE}`,
          answer: { state: 'live', lease: { projectId: 'p', workItemId: 'other', expiresAt: minutes(10) } },
        },
      }),
    );
    expect(foreign.verdict).toBe('orphan');
    expect(foreign.reasons[1]).toContain('of p/other, not this work item');

    const malformed = explainImage(
      facts({ lease: { leaseId: 'not-a-lease', workflowId: null, answer: { state: 'malformed' } } }),
    );
    expect(malformed.verdict).toBe('orphan');
    expect(malformed.lease).toMatchObject({ state: 'malformed', protects: false });
  });

  it('orphan held by a running owner that holds another image; a container and a child block it', () => {
    const f = facts({
      owner: running({ current: state({ imageId: OTHER_ID, image: 'snap/p:w2' }), retiring: [], last: null }),
      containers: [{ id: 'c'.repeat(64), names: ['/job-2'], state: 'running' }],
      children: [`sha256:${'c'.repeat(64)}`],
    });
    f.image.repoTags = [reapingTag(ID)];
    const e = explainImage(f);
    expect(e.verdict).toBe('orphan');
    expect(e.reasons[0]).toContain('holds another image (snap/p:w2, bbbbbbbbbbbb, on host h1)');
    const all = e.reasons.join('\n');
    expect(all).toContain('a reconcile run is removing it now');
    expect(all).toContain('job-2 (running)');
    expect(all).toContain('reports it as blocked');
  });

  it('orphan: labels without a work item, young, on a host without a schedule (grace from the configuration)', () => {
    const f = facts(
      { owner: null, schedule: schedule({ presence: 'not-found', graceSeconds: null }) },
      {
        'io.snapkeeper.managed': 'true',
      },
    );
    f.image.createdAt = minutes(-1);
    const e = explainImage(f);
    expect(e.verdict).toBe('orphan');
    expect(e.reasons[0]).toContain('its labels name no work item');
    expect(e.reaping).toMatchObject({
      graceFrom: 'configuration',
      eligibleAt: minutes(29),
      runAt: null,
      noRun: 'no-schedule',
    });
    expect(e.reasons.join('\n')).toContain('has no reconcile schedule');
  });
});

describe('explain: when the reconciler takes an orphan', () => {
  const now = Date.parse(NOW);

  it('young: the first listed run at or after the end of its grace', () => {
    expect(reapingTime(minutes(-5), schedule(), 0, now).runAt).toBe(minutes(7));
  });

  it('beyond the listed runs: counted on from the last one by the interval', () => {
    // Eligible at +60m; listed runs end at +12m; every 5m from there: +62m.
    expect(reapingTime(minutes(50), schedule({ graceSeconds: 600 }), 0, now).runAt).toBe(minutes(62));
  });

  it('a paused or unreadable schedule takes nothing', () => {
    expect(reapingTime(minutes(-60), schedule({ paused: true }), 0, now)).toMatchObject({
      runAt: null,
      noRun: 'paused',
    });
    expect(
      reapingTime(minutes(-60), schedule({ presence: 'error', error: 'x', graceSeconds: null }), 120, now),
    ).toMatchObject({ runAt: null, noRun: 'unreadable', graceSeconds: 120, graceFrom: 'configuration' });
  });
});

describe('explain: a commitSnapshot commit with its declared tag is an orphan, not kept', () => {
  it('its own tag is snapkeeper’s', () => {
    const f = facts({}, { ...managedLabels('p', 'w'), [LABEL_COMMIT]: 'c9', [LABEL_REFERENCE]: 'snap/p:w' });
    f.image.comment = commitComment('c9');
    const e = explainImage(f);
    expect(e.verdict).toBe('orphan');
    expect(e.references).toMatchObject({ owned: ['snap/p:w'], foreign: [], derived: false });
  });
});

describe('explain: the lease label', () => {
  it('names a lease workflow only for a lease id; no label, no lease', () => {
    expect(leaseOfImage({ 'io.snapkeeper.lease': LEASE })).toEqual({
      leaseId: LEASE,
      workflowId: `lease:${LEASE}`,
    });
    expect(leaseOfImage({ 'io.snapkeeper.lease': '../../x' })).toEqual({
      leaseId: '../../x',
      workflowId: null,
    });
    expect(leaseOfImage({})).toBeNull();
  });
});
