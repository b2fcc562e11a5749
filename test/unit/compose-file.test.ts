import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { SEARCH_ATTRIBUTE_TYPES } from '../../src/contract/search-attributes.js';

// The compose file cannot run here (no registry); these checks keep it from drifting from the code.
interface ComposeService {
  environment?: Record<string, unknown>;
  volumes?: string[];
  image?: string;
  build?: { context?: string; args?: Record<string, string> };
  command?: string[];
}

async function services(): Promise<Record<string, ComposeService>> {
  const text = await readFile(new URL('../../docker-compose.temporal.yml', import.meta.url), 'utf8');
  const parsed = parse(text, { merge: true }) as { services: Record<string, ComposeService> };
  return parsed.services;
}

describe('docker-compose.temporal.yml', () => {
  it('has Temporal, its UI and admin tools, the worker and the API', async () => {
    expect(Object.keys(await services())).toEqual(
      expect.arrayContaining([
        'postgresql',
        'temporal',
        'temporal-ui',
        'temporal-admin-tools',
        'snapkeeper-worker',
        'snapkeeper-api',
      ]),
    );
  });

  it('registers exactly the search attributes of src/contract/search-attributes.ts', async () => {
    const init = (await services())['temporal-search-attributes'];
    const pairs = String(init?.environment?.SNAPKEEPER_SEARCH_ATTRIBUTES ?? '')
      .split(/\s+/)
      .filter(Boolean);
    expect(Object.fromEntries(pairs.map((pair) => pair.split('=')))).toEqual(SEARCH_ATTRIBUTE_TYPES);
  });

  it('gives the Docker socket to the worker only', async () => {
    const all = await services();
    const mountsSocket = (name: string) => (all[name]?.volumes ?? []).some((v) => v.includes('docker.sock'));
    expect(mountsSocket('snapkeeper-worker')).toBe(true);
    expect(mountsSocket('snapkeeper-api')).toBe(false);
    expect(all['snapkeeper-api']?.environment).not.toHaveProperty('DOCKER_HOST');
    for (const key of ['TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE', 'SNAPKEEPER_HOST_ID']) {
      expect(all['snapkeeper-worker']?.environment).toHaveProperty(key);
      expect(all['snapkeeper-api']?.environment).toHaveProperty(key);
    }
    expect(all['snapkeeper-api']?.environment).toHaveProperty('SNAPKEEPER_API_TOKEN');
    expect(all['snapkeeper-api']?.environment).toHaveProperty('GITHUB_WEBHOOK_SECRET');
  });

  it('runs the worker and the API from the one image the Dockerfile builds, with node on the build', async () => {
    const all = await services();
    const worker = all['snapkeeper-worker'];
    const api = all['snapkeeper-api'];
    expect(worker?.build?.context).toBe('.');
    expect(worker?.image).toBeTruthy();
    expect(api?.image).toBe(worker?.image);
    // The API has no build of its own: it must not become a second, different image.
    expect(api?.build).toBeUndefined();
    // The worker keeps the image's CMD (node dist/src/worker/main.js); the API names its entry.
    expect(worker?.command).toBeUndefined();
    expect(api?.command).toEqual(['node', 'dist/src/api/main.js']);
    const dockerfile = await readFile(new URL('../../Dockerfile', import.meta.url), 'utf8');
    expect(dockerfile).toMatch(/^CMD \["node", "dist\/src\/worker\/main\.js"\]$/m);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).not.toMatch(/tsx/);
  });
});
