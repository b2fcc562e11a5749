// The fuzz test's oracle, checked against the API's HTTP layer with the fake service: every
// generated request that never reaches Temporal gets the status the oracle predicts. This keeps a
// wrong expectation from hiding behind the slower integration run.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FuzzTargets } from '../fuzz/fuzz-cases.js';
import { fuzzCase } from '../fuzz/fuzz-cases.js';
import { sendRaw } from '../fuzz/raw-http.js';
import type { Harness } from './api-fakes.js';
import { SECRET, TOKEN, buildApp } from './api-fakes.js';

let h: Harness;
let url: string;

const targets: FuzzTargets = {
  token: TOKEN,
  secret: SECRET,
  host: 'api-default-host',
  repository: 'fuzz-org/app',
  disabledProject: 'fuzz-off',
  sentinels: [
    {
      projectId: 'fuzz-s',
      workItemId: 'sentinel-0',
      image: 'snap/s:0',
      imageId: `sha256:${'b'.repeat(64)}`,
      pullRequest: 900,
    },
  ],
  unmanagedRefs: ['base:latest'],
  missingRefs: ['nothing:here'],
};

beforeAll(async () => {
  h = buildApp({ token: TOKEN, secret: SECRET });
  url = await h.app.listen({ host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  await h.app.close();
});

describe('fuzz oracle', () => {
  it('predicts the status of every request the HTTP layer answers by itself', async () => {
    const cases = fc.sample(fuzzCase(targets), { seed: 20261128, numRuns: 800 });
    const wrong: string[] = [];
    let checked = 0;
    for (const c of cases) {
      const res = await sendRaw(url, c.req);
      // The fake service accepts every registration: what the engine would refuse is not its job.
      if (c.category === 'register' && res.status < 300) continue;
      checked++;
      if (!c.expected.includes(res.status))
        wrong.push(
          `${c.category}: ${c.req.method} ${c.req.path.slice(0, 80)} → ${res.status}, expected ${c.expected.join('|')}`,
        );
    }
    expect(wrong.slice(0, 5)).toEqual([]);
    expect(checked).toBeGreaterThan(500);
  }, 60_000);

  it('replays the same requests for the same seed', () => {
    const a = fc
      .sample(fuzzCase(targets), { seed: 7, numRuns: 50 })
      .map((c) => c.req.path + String(c.req.body ?? ''));
    const b = fc
      .sample(fuzzCase(targets), { seed: 7, numRuns: 50 })
      .map((c) => c.req.path + String(c.req.body ?? ''));
    // Payloads carry the time of the merge; everything else is the seed's.
    const strip = (s: string) => s.replace(/\d{4}-\d\d-\d\dT[\dA-F%:.]+Z/g, 'T');
    expect(a.map(strip)).toEqual(b.map(strip));
  });
});
