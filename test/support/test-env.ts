import { randomBytes } from 'node:crypto';
import Dockerode from 'dockerode';
import { inject } from 'vitest';
import type { HarnessContext } from './provided-context.js';
import { HARNESS_KEYS } from './provided-context.js';

/** The values the global setup provided, typed. Only callable inside a test file. */
export function testEnv(): HarnessContext {
  const entries = HARNESS_KEYS.map((key) => [key, inject(key)] as const);
  const missing = entries
    .filter(([key, value]) => value === undefined && key !== 'tctlPath')
    .map(([key]) => key);
  if (missing.length > 0) {
    throw new Error(
      `global setup did not provide ${missing.join(', ')}: run this file with --project integration`,
    );
  }
  return Object.fromEntries(entries) as unknown as HarnessContext;
}

/** A Dockerode client for the private engine (or another `unix://` host, for multi-host tests). */
export function newDocker(dockerHost: string = testEnv().dockerHost): Dockerode {
  return new Dockerode({ socketPath: socketPathOf(dockerHost) });
}

export function socketPathOf(dockerHost: string): string {
  const match = /^unix:\/\/(\/.+)$/.exec(dockerHost);
  if (!match?.[1]) throw new Error(`expected a unix:// Docker host, got ${dockerHost}`);
  return match[1];
}

/** Fresh ids per test, so files running in parallel on one server and engine never collide. */
export function uniqueIds(prefix: string): { projectId: string; workItemId: string } {
  const suffix = () => randomBytes(4).toString('hex');
  return { projectId: `${prefix}-p-${suffix()}`, workItemId: `${prefix}-w-${suffix()}` };
}
