import { describe, expect, it } from 'vitest';
import { parseProjectPolicies } from '../../src/config/project-policy.js';
import type { TargetSignaller } from '../../src/service/signal-pull-request-targets.js';
import {
  SIGNAL_CONCURRENCY,
  signalPullRequestTargets,
} from '../../src/service/signal-pull-request-targets.js';
import type { InvalidateSignal, MergedSignal } from '../../src/contract/snapshot-types.js';
import { targetedByPullRequest } from '../../src/workflows/pull-request/match.js';
import { closedPullRequestWorkflowId, mergedPullRequestWorkflowId } from '../../src/contract/names.js';
import { FakeTemporal, execution, state } from './api-fakes.js';

const PR = { repository: 'Acme/App', number: 7 };

function recorder(options: { delayMs?: number; missing?: Set<string>; failing?: Set<string> } = {}) {
  const merged: Array<[string, string, MergedSignal]> = [];
  const invalidated: Array<[string, string, InvalidateSignal]> = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const run = async (p: string, w: string) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await new Promise((r) => setTimeout(r, options.delayMs ?? 0));
    inFlight--;
    if (options.failing?.has(w)) throw new Error(`signal to ${w} failed`);
    return !options.missing?.has(w);
  };
  const signaller: TargetSignaller = {
    merged: async (p, w, s) => {
      merged.push([p, w, s]);
      return run(p, w);
    },
    invalidate: async (p, w, s) => {
      invalidated.push([p, w, s]);
      return run(p, w);
    },
  };
  return { signaller, merged, invalidated, maxInFlight: () => maxInFlight };
}

/** Visibility rows for `count` linked work items, served `pageSize` per page. */
function pagedVisibility(count: number) {
  const temporal = new FakeTemporal();
  const rows = Array.from({ length: count }, (_, i) => execution(state('p', `w${i}`, { pullRequest: PR })));
  temporal.rows = (_query, token) => {
    const page = temporal.queries.at(-1)?.pageSize ?? 1;
    const start = token ? Number(new TextDecoder().decode(token)) : 0;
    const end = start + page;
    return {
      executions: rows.slice(start, end),
      ...(end < rows.length ? { next: new TextEncoder().encode(String(end)) } : {}),
    };
  };
  return temporal;
}

describe('signalPullRequestTargets', () => {
  it('reads every visibility page and signals each linked work item once, with the pull request and delivery', async () => {
    const temporal = pagedVisibility(7);
    const r = recorder();
    const out = await signalPullRequestTargets(temporal, r.signaller, {
      kind: 'merged',
      pullRequest: PR,
      deliveryId: 'd-1',
      at: '2025-01-01T10:00:05.999Z',
      branchTargets: [],
      pageSize: 3,
    });
    expect(temporal.queries.map((q) => q.pageSize)).toEqual([3, 3, 3]);
    expect(out.workItems.map((w) => w.workItemId).sort()).toEqual(['w0', 'w1', 'w2', 'w3', 'w4', 'w5', 'w6']);
    expect(out.failures).toEqual([]);
    expect(r.merged.map(([, , s]) => s)).toEqual(
      Array(7).fill({
        pullRequest: PR,
        deliveryId: 'd-1',
        match: 'link',
        mergedAt: '2025-01-01T10:00:05.999Z',
      }),
    );
  });

  it('a work item both linked and on a rule branch is signalled once, as a branch match', async () => {
    const temporal = pagedVisibility(2);
    const r = recorder({ missing: new Set(['b9']) });
    const out = await signalPullRequestTargets(temporal, r.signaller, {
      kind: 'merged',
      pullRequest: PR,
      deliveryId: 'd-2',
      branchTargets: [
        { projectId: 'p', workItemId: 'w1' },
        { projectId: 'p', workItemId: 'b9' },
      ],
    });
    expect(out.workItems).toEqual([
      { projectId: 'p', workItemId: 'w0', match: 'link', signalled: true },
      { projectId: 'p', workItemId: 'w1', match: 'branch', signalled: true },
      { projectId: 'p', workItemId: 'b9', match: 'branch', signalled: false },
    ]);
  });

  it('a close without merge invalidates with the pull request and its scope; failures are reported, not thrown', async () => {
    const temporal = pagedVisibility(2);
    const r = recorder({ failing: new Set(['w1']) });
    const out = await signalPullRequestTargets(temporal, r.signaller, {
      kind: 'closed',
      pullRequest: PR,
      deliveryId: 'd-3',
      at: '2025-01-01T10:00:05.999Z',
      branchTargets: [],
    });
    expect(r.merged).toEqual([]);
    expect(r.invalidated[0]?.[2]).toEqual({
      reason: 'pull request Acme/App#7 closed without merge (delivery d-3)',
      pullRequest: PR,
      match: 'link',
      occurredAt: '2025-01-01T10:00:05.999Z',
    });
    expect(out.failures.map((f) => f.target.workItemId)).toEqual(['w1']);
    expect(out.workItems.find((w) => w.workItemId === 'w1')?.signalled).toBe(false);
  });

  it(`sends at most ${SIGNAL_CONCURRENCY} signals at once`, async () => {
    const temporal = pagedVisibility(100);
    const r = recorder({ delayMs: 5 });
    const out = await signalPullRequestTargets(temporal, r.signaller, {
      kind: 'merged',
      pullRequest: PR,
      deliveryId: 'd-4',
      branchTargets: [],
    });
    expect(out.workItems).toHaveLength(100);
    expect(r.maxInFlight()).toBe(SIGNAL_CONCURRENCY);
  });
});

describe('targetedByPullRequest', () => {
  const linked = { pullRequest: { repository: 'acme/app', number: 7 } };
  const other = { pullRequest: { repository: 'acme/app', number: 8 } };
  const unlinked = { pullRequest: null };

  it('a link match ends only an image linked to that pull request (owner/name in any case)', () => {
    expect(targetedByPullRequest(linked, PR, 'link')).toBe(true);
    expect(targetedByPullRequest(other, PR, 'link')).toBe(false);
    expect(targetedByPullRequest(unlinked, PR, 'link')).toBe(false);
    expect(targetedByPullRequest(unlinked, PR, undefined)).toBe(false);
  });

  it('a branch match also ends an unlinked image, never one linked to another pull request', () => {
    expect(targetedByPullRequest(linked, PR, 'branch')).toBe(true);
    expect(targetedByPullRequest(unlinked, PR, 'branch')).toBe(true);
    expect(targetedByPullRequest(other, PR, 'branch')).toBe(false);
  });
});

describe('pull request workflow ids', () => {
  it('one per merged pull request, whatever the spelling; one per delivery for a close', () => {
    expect(mergedPullRequestWorkflowId(PR)).toBe('pull-request:acme%2Fapp:7:merged');
    expect(mergedPullRequestWorkflowId({ repository: 'acme/app', number: 7 })).toBe(
      mergedPullRequestWorkflowId(PR),
    );
    expect(closedPullRequestWorkflowId(PR, 'd-1')).toBe('pull-request:acme%2Fapp:7:closed:d-1');
  });
});

describe('branch rules and forks', () => {
  const policies = parseProjectPolicies(`
projects:
  acme:
    branchRules:
      - repository: acme/app
        pattern: "^(?<workItemId>T-[0-9]+)$"
`);

  it('a branch of the base repository matches; a fork or a deleted fork never does', () => {
    expect(
      policies.workItemsForPullRequest({
        repository: 'acme/app',
        headRepository: 'Acme/App',
        headRef: 'T-1',
      }),
    ).toEqual([{ projectId: 'acme', workItemId: 'T-1' }]);
    expect(
      policies.workItemsForPullRequest({
        repository: 'acme/app',
        headRepository: 'mallory/app',
        headRef: 'T-1',
      }),
    ).toEqual([]);
    expect(
      policies.workItemsForPullRequest({ repository: 'acme/app', headRepository: null, headRef: 'T-1' }),
    ).toEqual([]);
  });
});
