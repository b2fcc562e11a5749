// Concurrent looks for merged pull requests share one visibility query per repository (issue 19's
// B4: visibility is rate-limited per namespace), each answered with its own rows; a look that comes
// alone asks exactly the query it always asked.
import { AsyncLocalStorage } from 'node:async_hooks';
import { describe, expect, it } from 'vitest';
import {
  MAX_PULL_REQUESTS_PER_LOOK,
  coalescedPullRequestLookup,
} from '../../src/service/coalesced-pull-request-lookup.js';
import { pullRequestQuery } from '../../src/service/find-snapshots-by-pull-request.js';
import { SEARCH_ATTRIBUTES } from '../../src/contract/search-attributes.js';
import { FakeTemporal, execution, state } from './api-fakes.js';

const REPO = 'Acme/App';

/** Visibility rows for links (work item, pull request number), answered for the numbers a query names. */
function visibility(links: Array<[string, string, number]>, options: { gate?: Promise<void> } = {}) {
  const temporal = new FakeTemporal();
  const rows = links.map(([p, w, n]) =>
    execution(state(p, w, { pullRequest: { repository: REPO, number: n } })),
  );
  const listed = temporal.workflowService.listWorkflowExecutions;
  const asked: string[] = [];
  temporal.workflowService.listWorkflowExecutions = async (req) => {
    asked.push(req.query);
    if (options.gate) await options.gate;
    return listed(req);
  };
  temporal.rows = (query) => {
    const inList = /IN \(([^)]*)\)/.exec(query)?.[1];
    const one = new RegExp(`${SEARCH_ATTRIBUTES.pullRequest} = (\\d+)`).exec(query)?.[1];
    const numbers = new Set((inList ?? one ?? '').split(',').map((n) => Number(n.trim())));
    return {
      executions: rows.filter((_, i) => numbers.has((links[i] as [string, string, number])[2])),
    };
  };
  return Object.assign(temporal, { asked });
}

describe('coalescedPullRequestLookup', () => {
  it('a look that comes alone asks the one pull request query it always asked', async () => {
    const temporal = visibility([['p', 'w1', 7]]);
    const find = coalescedPullRequestLookup(temporal);
    expect(await find({ repository: REPO, number: 7 })).toEqual([{ projectId: 'p', workItemId: 'w1' }]);
    expect(temporal.queries.map((q) => q.query)).toEqual([pullRequestQuery({ repository: REPO, number: 7 })]);
  });

  it('looks that come while one is in flight go together in one query, each answered with its own rows', async () => {
    let open: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const temporal = visibility(
      [
        ['p', 'w1', 1],
        ['p', 'w2', 2],
        ['p', 'w3', 3],
        ['q', 'w4', 3],
      ],
      { gate },
    );
    const find = coalescedPullRequestLookup(temporal);
    const looks = [1, 2, 3, 4, 2].map((number) => find({ repository: REPO, number }));
    open();
    const [one, two, three, four, twoAgain] = await Promise.all(looks);
    expect(one).toEqual([{ projectId: 'p', workItemId: 'w1' }]);
    expect(two).toEqual([{ projectId: 'p', workItemId: 'w2' }]);
    expect(twoAgain).toEqual(two);
    expect(three).toEqual([
      { projectId: 'p', workItemId: 'w3' },
      { projectId: 'q', workItemId: 'w4' },
    ]);
    expect(four).toEqual([]);
    // 1 alone; 2, 3 and 4 (2 asked twice) in one query.
    expect(temporal.queries).toHaveLength(2);
    expect(temporal.queries[1]?.query).toContain(`${SEARCH_ATTRIBUTES.pullRequest} IN (2, 3, 4)`);
    expect(temporal.queries[1]?.query).toContain(`${SEARCH_ATTRIBUTES.repository} = '${REPO}'`);
  });

  it(`asks for at most ${MAX_PULL_REQUESTS_PER_LOOK} pull requests in one query`, async () => {
    const temporal = visibility([]);
    const find = coalescedPullRequestLookup(temporal);
    const count = MAX_PULL_REQUESTS_PER_LOOK * 2 + 1;
    await Promise.all(Array.from({ length: count }, (_, i) => find({ repository: REPO, number: i + 1 })));
    // The first alone, then two full queries.
    expect(temporal.queries).toHaveLength(3);
  });

  it("a shared query runs in no caller's call context (a delivery's deadline), only in runQuery's", async () => {
    // The Temporal connection keeps a call's deadline in async-local storage, as this does.
    const context = new AsyncLocalStorage<string>();
    let open: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const temporal = visibility([], { gate });
    const seen: Array<string | undefined> = [];
    const listed = temporal.workflowService.listWorkflowExecutions;
    temporal.workflowService.listWorkflowExecutions = async (req) => {
      seen.push(context.getStore());
      return listed(req);
    };
    const plain = coalescedPullRequestLookup(temporal);
    const first = context.run('delivery 1', () => plain({ repository: REPO, number: 1 }));
    const second = context.run('delivery 2', () => plain({ repository: REPO, number: 2 }));
    open();
    await Promise.all([first, second]);
    expect(seen).toEqual([undefined, undefined]);
    const wrapped = coalescedPullRequestLookup(temporal, {
      runQuery: (query) => context.run('its own deadline', query),
    });
    await context.run('delivery 3', () => wrapped({ repository: REPO, number: 3 }));
    expect(seen[2]).toBe('its own deadline');
  });

  it('a failed query fails the looks it carried, and the next looks go on', async () => {
    const temporal = visibility([['p', 'w1', 1]]);
    const find = coalescedPullRequestLookup(temporal);
    temporal.listError = new Error('RESOURCE_EXHAUSTED');
    await expect(find({ repository: REPO, number: 1 })).rejects.toThrow('RESOURCE_EXHAUSTED');
    temporal.listError = undefined;
    expect(await find({ repository: REPO, number: 1 })).toEqual([{ projectId: 'p', workItemId: 'w1' }]);
  });

  it('another repository does not wait for this one; a bad reference fails at once, alone', async () => {
    const temporal = visibility([], { gate: new Promise<void>(() => undefined) });
    const find = coalescedPullRequestLookup(temporal);
    void find({ repository: REPO, number: 1 });
    void find({ repository: REPO, number: 2 });
    expect(() => find({ repository: 'not a repository', number: 1 })).toThrow(/owner\/name/);
    void find({ repository: 'Acme/Other', number: 1 });
    await new Promise((resolve) => setImmediate(resolve));
    // Acme/App's first look hangs; its second waits for it; Acme/Other's went at once.
    expect(temporal.asked).toHaveLength(2);
    expect(temporal.asked[1]).toContain(`${SEARCH_ATTRIBUTES.repository} = 'Acme/Other'`);
  });
});
