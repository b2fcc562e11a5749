// B7: what one snapshot lifecycle costs in Temporal, counted from the histories (issue 19). Per
// kind of ending (TTL, merge, invalidate, evict, replace), each lifecycle with one lookup that
// records its use: the billable actions and history events of every workflow the lifecycles
// started, plus the events the host's budget workflow gained meanwhile, per lifecycle. Beside it, in
// the same run, the raw floor (one workflow with a durable timer that removes its image with one
// activity), and the reconcile schedule's cost per host and hour at the default interval.
import { budgetWorkflowId, WORKFLOW_TYPES } from '../src/contract/names.js';
import { startNodeService } from '../scripts/lib/node-service.js';
import { startReconcile } from '../src/service/run-reconcile.js';
import type { BenchContext } from './bench-context.js';
import { sizeOf } from './bench-context.js';
import { commitImages } from './bench-images.js';
import type { B7Cost, CostRole, KindCost, LifecycleKind } from './b7-cost-types.js';
import type { CostCategory, CostTally, HistoryEvent } from './b7-history-cost.js';
import {
  COST_CATEGORIES,
  addEvent,
  billableActionNames,
  emptyTally,
  eventMs,
  mergeTallies,
  messageName,
  perLifecycle,
} from './b7-history-cost.js';
import type { RunRef } from './b7-histories.js';
import {
  historyOf,
  runsOf,
  runsOfType,
  runsStartedBetween,
  waitClosed,
  waitSettled,
} from './b7-histories.js';
import type { PhaseRecord } from './b7-lifecycles.js';
import {
  LOOKUP_AFTER_MS,
  TTL_SECONDS,
  evictPhase,
  invalidatePhase,
  mergePhase,
  replacePhase,
  ttlPhase,
} from './b7-lifecycles.js';
import { startFloorWorker } from './floor-worker.js';
import type { BenchResult, Row } from './result-types.js';
import { childEnv } from './snapkeeper-stack.js';
import { TIMER_TASK_QUEUE } from './workflows/ttl-timer-workflow.js';

/** SNAPKEEPER_RECONCILE_INTERVAL's default (src/config/config.ts): 5 minutes, 12 runs an hour. */
const DEFAULT_RECONCILE_INTERVAL_MS = 5 * 60_000;
/** SNAPKEEPER_ORPHAN_GRACE's default: the schedule's runs reap nothing younger. */
const DEFAULT_ORPHAN_GRACE_SECONDS = 600;
const RECONCILE_RUNS = 3;
const SETTLE_TIMEOUT_MS = 120_000;
/** Issue 19's goals per lifecycle (TTL, merge and invalidate lifecycles). */
const GOAL_ACTIONS = 8;
const GOAL_EVENTS = 25;
const GOAL_KINDS: readonly LifecycleKind[] = ['ttl', 'merge', 'invalidate'];

function roleOf(type: string): CostRole {
  switch (type) {
    case WORKFLOW_TYPES.snapshot:
      return 'snapshot';
    case WORKFLOW_TYPES.pullRequestClosed:
      return 'pull request';
    case WORKFLOW_TYPES.budget:
      return 'budget';
    case WORKFLOW_TYPES.reconcile:
    case WORKFLOW_TYPES.reconcileHost:
      return 'reconcile';
    case 'benchTimerWorkflow':
      return 'floor';
    default:
      return type;
  }
}

/** Tallies by role; `keep` picks the events that count (a window of time, or all). */
class RoleTallies {
  readonly total = emptyTally();
  readonly byRole: Record<CostRole, CostTally> = {};
  /** Billable actions by what they are for, per role (see billableActionNames). */
  readonly names: Record<CostRole, Record<string, number>> = {};
  lookupsRecorded = 0;

  add(
    role: CostRole,
    events: readonly HistoryEvent[],
    keep: (e: HistoryEvent) => boolean = () => true,
  ): void {
    const tally = (this.byRole[role] ??= emptyTally());
    for (const e of events) {
      if (!keep(e)) continue;
      addEvent(tally, e);
      addEvent(this.total, e);
      if (role === 'snapshot' && (messageName(e) === 'used' || messageName(e) === 'touch'))
        this.lookupsRecorded++;
    }
    const names = (this.names[role] ??= {});
    for (const name of billableActionNames(events, keep)) names[name] = (names[name] ?? 0) + 1;
  }
}

/** Named actions divided by `n`, to two decimals. */
function namesPer(
  names: Record<CostRole, Record<string, number>>,
  n: number,
): Record<CostRole, Record<string, number>> {
  const out: Record<CostRole, Record<string, number>> = {};
  for (const [role, byName] of Object.entries(names)) {
    out[role] = {};
    for (const [name, count] of Object.entries(byName)) out[role][name] = Math.round((count / n) * 100) / 100;
  }
  return out;
}

async function budgetEvents(
  ctx: BenchContext,
  hosts: readonly string[],
): Promise<Array<[RunRef, HistoryEvent[]]>> {
  const ids = new Set(hosts.map(budgetWorkflowId));
  const runs = (await runsOfType(ctx.stack.client, WORKFLOW_TYPES.budget)).filter((r) =>
    ids.has(r.workflowId),
  );
  return Promise.all(
    runs.map(async (r) => [r, await historyOf(ctx.stack.client, r)] as [RunRef, HistoryEvent[]]),
  );
}

async function settleBudgets(ctx: BenchContext, hosts: readonly string[]): Promise<void> {
  for (const h of hosts) await waitSettled(ctx.stack.client, budgetWorkflowId(h), SETTLE_TIMEOUT_MS);
}

/** Counts one phase: its workflows whole or by window, the budget's events in its window. */
async function countPhase(ctx: BenchContext, record: PhaseRecord): Promise<KindCost> {
  const { client } = ctx.stack;
  await settleBudgets(ctx, record.budgetHosts);
  const endMs = Math.max(record.endMs, Date.now());
  const tallies = new RoleTallies();
  const wholeRuns = await runsOf(client, record.wholeWorkflows);
  const missing = record.wholeWorkflows.filter((id) => !wholeRuns.some((r) => r.workflowId === id));
  if (missing.length > 0)
    throw new Error(`B7 ${record.kind}: visibility does not list ${missing.join(', ')}`);
  for (const run of wholeRuns) tallies.add(roleOf(run.type), await historyOf(client, run));
  for (const w of record.windows) {
    for (const run of await runsOf(client, [w.workflowId])) {
      const inWindow = (e: HistoryEvent) => eventMs(e) >= w.fromMs && eventMs(e) < w.toMs;
      tallies.add(roleOf(run.type), await historyOf(client, run), inWindow);
    }
  }
  const inPhase = (e: HistoryEvent) => eventMs(e) >= record.startMs && eventMs(e) <= endMs;
  for (const [, events] of await budgetEvents(ctx, record.budgetHosts))
    tallies.add('budget', events, inPhase);
  // Anything else started meanwhile is caused by the phase too (nothing else runs): counted, and named.
  const known = new Set([
    ...record.wholeWorkflows,
    ...record.windows.map((w) => w.workflowId),
    ...record.budgetHosts.map(budgetWorkflowId),
    ...record.excluded,
  ]);
  const others = (await runsStartedBetween(client, record.startMs, endMs)).filter(
    (r) => !known.has(r.workflowId),
  );
  for (const run of others) tallies.add(roleOf(run.type), await historyOf(client, run));
  const byRole: Record<CostRole, CostTally> = {};
  for (const [role, t] of Object.entries(tallies.byRole)) byRole[role] = perLifecycle(t, record.lifecycles);
  return {
    lifecycles: record.lifecycles,
    lookups: record.lookups,
    lookupsRecorded: tallies.lookupsRecorded,
    total: tallies.total,
    perLifecycle: perLifecycle(tallies.total, record.lifecycles),
    byRole,
    byRoleTotal: tallies.byRole,
    actionsByName: namesPer(tallies.names, record.lifecycles),
    actionsByNameTotal: tallies.names,
    runsCounted: wholeRuns.length + others.length,
    unexpectedRuns: others.map((r) => `${r.type} ${r.workflowId}`),
  };
}

/** The raw floor: a durable timer workflow that removes its image with one activity. */
async function floorCost(ctx: BenchContext, n: number): Promise<B7Cost['floor']> {
  const imgs = await commitImages(ctx.docker, {
    baseImage: ctx.environment.baseImage,
    repository: `bench-b7-floor/${ctx.run}`,
    ids: Array.from({ length: n }, (_, i) => ({ projectId: `b7-floor-${ctx.run}`, workItemId: `item-${i}` })),
    managed: false,
  });
  const worker = await startFloorWorker(ctx);
  try {
    const { client } = ctx.stack;
    const ids = imgs.map((_, i) => `bench-b7-floor-${ctx.run}-${i}`);
    const wake = Date.now() + 2000;
    await Promise.all(
      imgs.map((img, i) =>
        client.workflow.start('benchTimerWorkflow', {
          workflowId: ids[i]!,
          taskQueue: TIMER_TASK_QUEUE,
          args: [img.imageId, wake],
        }),
      ),
    );
    await Promise.all(ids.map((id) => waitClosed(client, id, SETTLE_TIMEOUT_MS)));
    const tallies = new RoleTallies();
    for (const id of ids) {
      const events = await historyOf(client, { workflowId: id });
      tallies.add('floor', events);
    }
    return { workflows: n, perWorkflow: perLifecycle(tallies.total, n) };
  } finally {
    await worker.stop('SIGTERM', 30_000);
  }
}

/** The schedule's run, started by hand as the schedule does it: one host, the default grace. */
async function reconcileCost(ctx: BenchContext): Promise<B7Cost['reconcile']> {
  const { client } = ctx.stack;
  const host = ctx.stack.hostId;
  const open = await client.workflow.count(
    `WorkflowType = '${WORKFLOW_TYPES.snapshot}' AND SnapshotHost = '${host}' AND ExecutionStatus = 'Running'`,
  );
  const startMs = Date.now();
  for (let i = 0; i < RECONCILE_RUNS; i++) {
    const started = await startReconcile(client, {
      hosts: [host],
      orphanGraceSeconds: DEFAULT_ORPHAN_GRACE_SECONDS,
      dryRun: false,
    });
    await started.result();
  }
  const record: PhaseRecord = {
    kind: 'reconcile',
    lifecycles: RECONCILE_RUNS,
    wholeWorkflows: [],
    windows: [],
    excluded: [],
    budgetHosts: [host],
    startMs,
    endMs: Date.now(),
    lookups: 0,
  };
  const counted = await countPhase(ctx, record);
  const runsPerHour = 3_600_000 / DEFAULT_RECONCILE_INTERVAL_MS;
  return {
    runs: RECONCILE_RUNS,
    perRun: counted.perLifecycle,
    byRole: counted.byRole,
    ...(counted.actionsByName ? { actionsByName: counted.actionsByName } : {}),
    perHostHour: {
      actions: Math.round(counted.perLifecycle.actions * runsPerHour * 10) / 10,
      events: Math.round(counted.perLifecycle.events * runsPerHour * 10) / 10,
      runsPerHour,
    },
    openSnapshotsOnHost: open.count,
  };
}

function combine(costs: readonly KindCost[]): KindCost {
  const total = emptyTally();
  const byRoleTotal: Record<CostRole, CostTally> = {};
  let lifecycles = 0;
  let lookups = 0;
  let lookupsRecorded = 0;
  let runsCounted = 0;
  for (const c of costs) {
    mergeTallies(total, c.total);
    lifecycles += c.lifecycles;
    lookups += c.lookups;
    lookupsRecorded += c.lookupsRecorded;
    runsCounted += c.runsCounted;
    for (const [role, t] of Object.entries(c.byRoleTotal))
      mergeTallies((byRoleTotal[role] ??= emptyTally()), t);
  }
  const byRole: Record<CostRole, CostTally> = {};
  for (const [role, t] of Object.entries(byRoleTotal)) byRole[role] = perLifecycle(t, lifecycles);
  return {
    lifecycles,
    lookups,
    lookupsRecorded,
    total,
    perLifecycle: perLifecycle(total, lifecycles),
    byRole,
    byRoleTotal,
    runsCounted,
    unexpectedRuns: costs.flatMap((c) => c.unexpectedRuns),
  };
}

const KIND_LABELS: Record<LifecycleKind | 'ttl+merge+invalidate', string> = {
  ttl: 'TTL expiry',
  merge: 'merge webhook',
  invalidate: 'invalidate (API)',
  evict: 'evicted by the budget',
  replace: 'replaced by the next commit',
  'ttl+merge+invalidate': 'TTL, merge and invalidate together',
};

/** Per kind, every billable action by what it is for, per lifecycle: the list docs/design.md explains. */
export function namedActionsTable(cost: B7Cost): string {
  const lines: string[] = [];
  for (const [kind, c] of Object.entries(cost.kinds) as Array<[keyof B7Cost['kinds'], KindCost]>) {
    if (!c.actionsByName) continue;
    lines.push(
      `${KIND_LABELS[kind]} (n=${c.lifecycles}): ${c.perLifecycle.actions} actions per lifecycle`,
      '',
      '| workflow | action | per lifecycle |',
      '| --- | --- | ---: |',
    );
    for (const [role, byName] of Object.entries(c.actionsByName)) {
      const sorted = Object.entries(byName).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
      for (const [name, perLifecycle] of sorted) lines.push(`| ${role} | ${name} | ${perLifecycle} |`);
    }
    lines.push('');
  }
  const r = cost.reconcile;
  if (r.actionsByName) {
    lines.push(
      `reconcile run (n=${r.runs}): ${r.perRun.actions} actions per run`,
      '',
      '| workflow | action | per run |',
      '| --- | --- | ---: |',
    );
    for (const [role, byName] of Object.entries(r.actionsByName)) {
      const sorted = Object.entries(byName).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
      for (const [name, perRun] of sorted) lines.push(`| ${role} | ${name} | ${perRun} |`);
    }
  }
  return lines.join('\n');
}

/** The breakdown as a markdown table: per category, actions / events per lifecycle, per kind. */
export function breakdownTable(cost: B7Cost): string {
  const kinds = Object.keys(cost.kinds) as Array<keyof B7Cost['kinds']>;
  const head = ['category (actions / events per lifecycle)', ...kinds.map((k) => KIND_LABELS[k]), 'floor'];
  const lines = [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`];
  const cell = (t: CostTally | undefined, c: CostCategory) => {
    const x = t?.byCategory[c];
    return x ? `${x.actions} / ${x.events}` : '';
  };
  for (const c of COST_CATEGORIES) {
    const cells = [
      ...kinds.map((k) => cell(cost.kinds[k]?.perLifecycle, c)),
      cell(cost.floor.perWorkflow, c),
    ];
    if (cells.every((x) => x === '')) continue;
    lines.push(`| ${c} | ${cells.join(' | ')} |`);
  }
  const totals = [
    ...kinds.map((k) => `**${cost.kinds[k]!.perLifecycle.actions} / ${cost.kinds[k]!.perLifecycle.events}**`),
    `**${cost.floor.perWorkflow.actions} / ${cost.floor.perWorkflow.events}**`,
  ];
  lines.push(`| all | ${totals.join(' | ')} |`);
  lines.push('');
  const roles = [...new Set(kinds.flatMap((k) => Object.keys(cost.kinds[k]!.byRole)))];
  const roleHead = ['workflow (actions / events per lifecycle)', ...kinds.map((k) => KIND_LABELS[k])];
  lines.push(`| ${roleHead.join(' | ')} |`, `| ${roleHead.map(() => '---').join(' | ')} |`);
  for (const role of roles) {
    const cells = kinds.map((k) => {
      const t = cost.kinds[k]!.byRole[role];
      return t ? `${t.actions} / ${t.events}` : '';
    });
    lines.push(`| ${role} | ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

export async function runB7(ctx: BenchContext): Promise<BenchResult> {
  const n = sizeOf(ctx, 'B7', 5, 20);
  const chains = Math.min(n, 4);
  const perChain = Math.ceil(n / chains);
  const evictHost = `b7evict-${ctx.run}`;
  // The evicting host: a Docker worker of its own on the bench's engine that may keep one snapshot.
  const evictWorker = await startNodeService({
    name: 'worker-b7-evict',
    entry: 'src/worker/main.ts',
    env: childEnv({
      ...ctx.stack.env,
      SNAPKEEPER_HOST_ID: evictHost,
      SNAPKEEPER_WORKER_ROLES: 'docker',
      SNAPKEEPER_MAX_SNAPSHOTS: '1',
    }),
    readyMessage: 'worker ready',
  });
  const failed: string[] = [];
  const cost: B7Cost = {
    kinds: {},
    floor: { workflows: 0, perWorkflow: emptyTally() },
    reconcile: {
      runs: 0,
      perRun: emptyTally(),
      byRole: {},
      perHostHour: { actions: 0, events: 0, runsPerHour: 0 },
      openSnapshotsOnHost: 0,
    },
  };
  try {
    await evictWorker.waitReady(120_000);
    ctx.progress(`B7: the floor (${Math.min(n, 10)} raw timer workflows)`);
    cost.floor = await floorCost(ctx, Math.min(n, 10));
    // The floor's history is known exactly: a start, a timer and an activity. Anything else means
    // the counting (b7-history-cost.ts) no longer reads histories right, and every figure is wrong.
    if (cost.floor.perWorkflow.actions !== 3)
      throw new Error(
        `B7: the floor counted ${cost.floor.perWorkflow.actions} actions, not 3 (start, timer, activity)`,
      );
    const phases: Array<[LifecycleKind, () => Promise<PhaseRecord>]> = [
      ['ttl', () => ttlPhase(ctx, n)],
      ['merge', () => mergePhase(ctx, n)],
      ['invalidate', () => invalidatePhase(ctx, n)],
      ['evict', () => evictPhase(ctx, n, { hostId: evictHost })],
      ['replace', () => replacePhase(ctx, chains, perChain)],
    ];
    for (const [kind, run] of phases) {
      ctx.progress(`B7: ${kind} lifecycles`);
      // A kind that fails is reported as failed; the other kinds are still counted.
      try {
        const c = await countPhase(ctx, await run());
        cost.kinds[kind] = c;
        ctx.progress(
          `B7: ${kind}: ${c.perLifecycle.actions} actions, ${c.perLifecycle.events} events per lifecycle (n=${c.lifecycles}, lookups recorded ${c.lookupsRecorded}/${c.lookups})`,
        );
      } catch (err) {
        const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
        failed.push(`${kind}: ${message.split('\n').slice(0, 3).join(' / ')}`);
        ctx.progress(`B7: ${kind} FAILED: ${message}`);
      }
    }
    const goalKinds = GOAL_KINDS.flatMap((k) => (cost.kinds[k] ? [cost.kinds[k]] : []));
    if (goalKinds.length === GOAL_KINDS.length) cost.kinds['ttl+merge+invalidate'] = combine(goalKinds);
    ctx.progress(`B7: ${RECONCILE_RUNS} reconcile runs of host ${ctx.stack.hostId}`);
    cost.reconcile = await reconcileCost(ctx);
  } finally {
    await evictWorker.stop('SIGTERM', 30_000).catch(() => undefined);
  }
  ctx.progress(`B7 breakdown:\n${breakdownTable(cost)}`);
  ctx.progress(`B7 actions by what they are for:\n${namedActionsTable(cost)}`);
  const result = resultOf(cost, { n, chains, perChain, evictHost });
  if (failed.length > 0) {
    // Saved with the figures of the kinds that worked, then reported as a failure of B7.
    result.notes.push(...failed.map((f) => `FAILED ${f}`));
    ctx.progress(`B7 result (failed kinds: ${failed.length}):\n${JSON.stringify(result.rows, null, 1)}`);
    throw new Error(`B7: ${failed.length} kind(s) failed: ${failed.join('; ')}`);
  }
  return result;
}

function resultOf(
  cost: B7Cost,
  p: { n: number; chains: number; perChain: number; evictHost: string },
): BenchResult {
  const floor = cost.floor.perWorkflow;
  const rows: Row[] = [];
  for (const [kind, c] of Object.entries(cost.kinds) as Array<[keyof B7Cost['kinds'], KindCost]>) {
    const goal = kind === 'ttl+merge+invalidate' || GOAL_KINDS.includes(kind as LifecycleKind);
    rows.push(
      {
        what: `${KIND_LABELS[kind]}: billable actions per lifecycle (n=${c.lifecycles})`,
        measured: { kind: 'figure', label: 'actions', value: c.perLifecycle.actions, unit: 'actions' },
        baseline: {
          kind: 'figure',
          label: 'raw timer workflow + remove activity',
          value: floor.actions,
          unit: 'actions',
        },
        ratio: c.perLifecycle.actions / floor.actions,
        ...(goal ? { goal: `≤ ${GOAL_ACTIONS}`, met: c.perLifecycle.actions <= GOAL_ACTIONS } : {}),
      },
      {
        what: `${KIND_LABELS[kind]}: history events per lifecycle`,
        measured: { kind: 'figure', label: 'events', value: c.perLifecycle.events, unit: 'events' },
        baseline: {
          kind: 'figure',
          label: 'raw timer workflow + remove activity',
          value: floor.events,
          unit: 'events',
        },
        ratio: c.perLifecycle.events / floor.events,
        ...(goal ? { goal: `≤ ${GOAL_EVENTS}`, met: c.perLifecycle.events <= GOAL_EVENTS } : {}),
      },
    );
  }
  const r = cost.reconcile;
  rows.push(
    {
      what: `reconcile schedule: billable actions per host per hour (${r.perHostHour.runsPerHour} runs at the default 5 min; ${r.perRun.actions} per run, ${r.openSnapshotsOnHost} open snapshots on the host)`,
      measured: {
        kind: 'figure',
        label: 'actions / host / hour',
        value: r.perHostHour.actions,
        unit: 'actions/h',
      },
    },
    {
      what: `reconcile schedule: history events per host per hour (${r.perRun.events} per run)`,
      measured: {
        kind: 'figure',
        label: 'events / host / hour',
        value: r.perHostHour.events,
        unit: 'events/h',
      },
    },
  );
  const unexpected = Object.values(cost.kinds).flatMap((c) => c?.unexpectedRuns ?? []);
  return {
    id: 'B7',
    title: 'cost per lifecycle (Temporal actions and history events)',
    parameters: {
      lifecyclesPerKind: p.n,
      replaceChains: p.chains,
      replacementsPerChain: p.perChain,
      ttlSeconds: TTL_SECONDS,
      lookupAfterMs: LOOKUP_AFTER_MS,
      evictHost: p.evictHost,
      evictHostMaxSnapshots: 1,
      floorWorkflows: cost.floor.workflows,
      reconcileRuns: r.runs,
    },
    rows,
    notes: [
      "Billable (following Temporal Cloud's action list, as far as a history shows it): workflow start (client, continue-as-new, child), signal (counted once, where received), update accepted, timer started, activity scheduled (+ each retry), search attribute upsert, memo upsert, local activity. Not billable here: workflow task events, completions, patch markers, the sender side of a signal. Not in a history, so not counted: queries, rejected updates, heartbeats, the schedule trigger itself.",
      "Counted per kind: every run of every workflow the lifecycles started (snapshot, pull request, and anything else started meanwhile), plus the events the budget workflow of the host gained between the phase's start and end; divided by the lifecycles.",
      `Each lifecycle registers with a ${TTL_SECONDS} s TTL and looks itself up once ${LOOKUP_AFTER_MS} ms later (after a tenth of the TTL, so the lookup records its use by a \`used\` signal, as a later job's lookup does).`,
      `Evict: a Docker worker of its own (host ${p.evictHost}, SNAPKEEPER_MAX_SNAPSHOTS=1) on the same engine; each registration evicts the snapshot before it; the chain's last snapshot is not counted, but its admission is among the budget's events.`,
      `Replace: ${p.chains} work items, ${p.perChain} replacements each; one replaced lifecycle = its workflow's events from just before one registration to the settled state after the next lookup (steady state: registration, lookup, removal of the replaced image); the chain's first registration (the workflow start) and its last image's ending are outside every window.`,
      `Reconcile: ${r.runs} runs started as the schedule does (one host, grace ${DEFAULT_ORPHAN_GRACE_SECONDS} s), each counted with its child and the budget's events; per hour at the default interval of 5 min. A schedule trigger may be billed on Temporal Cloud beside the start: not in any history, not counted.`,
      ...(unexpected.length > 0
        ? [`Runs started during a phase that no driver named (counted): ${unexpected.join('; ')}`]
        : []),
    ],
    cost,
  };
}
