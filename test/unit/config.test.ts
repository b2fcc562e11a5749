import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { CONFIG_VARIABLES, loadConfig, parseDuration } from '../../src/config/config.js';
import { parseProjectPolicies } from '../../src/config/project-policy.js';

describe('config', () => {
  it('has documented defaults', () => {
    const c = loadConfig({ SNAPKEEPER_HOST_ID: 'h1' });
    expect(c.temporal).toEqual({
      address: 'localhost:7233',
      namespace: 'default',
      apiKey: undefined,
      tls: undefined,
      grpcMeta: {},
    });
    expect(c.api.port).toBe(8080);
    expect(c.defaultTtlSeconds).toBe(86400);
    expect(c.reconcile).toEqual({ intervalMs: 300_000, orphanGraceMs: 600_000 });
    expect(c.budget.diskHighPercent).toBe(85);
    expect(c.budget.diskLowPercent).toBe(80);
    expect(c.workerRoles).toEqual(['workflow', 'docker']);
    expect(c.api.token).toBeUndefined();
    expect(c.lookupRecordIntervalMs).toBe(60_000);
    expect(c.workflowCache).toEqual({ maxCachedWorkflows: 1000, stickyQueueTimeoutMs: 10_000 });
  });

  it('rejects bad values with the variable name', () => {
    expect(() => loadConfig({ SNAPKEEPER_PORT: 'x' })).toThrow(/SNAPKEEPER_PORT/);
    expect(() => loadConfig({ SNAPKEEPER_DEFAULT_TTL: '3 days' })).toThrow(/SNAPKEEPER_DEFAULT_TTL/);
    expect(() => loadConfig({ SNAPKEEPER_HOST_ID: 'bad host' })).toThrow(/SNAPKEEPER_HOST_ID/);
    expect(() => loadConfig({ SNAPKEEPER_DISK_LOW_PERCENT: '90' })).toThrow(/LOW/);
    expect(() => loadConfig({ SNAPKEEPER_MAX_CACHED_WORKFLOWS: '-1' })).toThrow(
      /SNAPKEEPER_MAX_CACHED_WORKFLOWS/,
    );
    expect(() => loadConfig({ SNAPKEEPER_STICKY_QUEUE_TIMEOUT: 'soon' })).toThrow(
      /SNAPKEEPER_STICKY_QUEUE_TIMEOUT/,
    );
    expect(() => loadConfig({ SNAPKEEPER_LOOKUP_RECORD_INTERVAL: '1 min' })).toThrow(
      /SNAPKEEPER_LOOKUP_RECORD_INTERVAL/,
    );
  });

  it('every variable is documented in the README settings table', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const undocumented = CONFIG_VARIABLES.filter((name) => !readme.includes(`| \`${name}\``));
    expect(undocumented).toEqual([]);
  });

  it('parses durations', () => {
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('5m')).toBe(300_000);
    expect(() => parseDuration('5')).toThrow();
  });
});

describe('project policy', () => {
  const yaml = `
defaults:
  ttl: 12h
projects:
  web:
    slidingTtl: true
    maxSnapshots: 3
    branchRules:
      - repository: acme/web
        pattern: '^agent/(?<workItemId>[A-Za-z0-9-]+)$'
  off:
    enabled: false
`;

  it('merges project over defaults', () => {
    const p = parseProjectPolicies(yaml);
    expect(p.forProject('web')).toEqual({
      enabled: true,
      ttlSeconds: 43200,
      slidingTtl: true,
      maxSnapshots: 3,
    });
    expect(p.forProject('off').enabled).toBe(false);
    expect(p.forProject('unknown')).toEqual({
      enabled: true,
      ttlSeconds: 43200,
      slidingTtl: undefined,
      maxSnapshots: undefined,
    });
  });

  it('derives work items from branches', () => {
    const p = parseProjectPolicies(yaml);
    expect(p.workItemsForBranch('acme/web', 'agent/T-42')).toEqual([
      { projectId: 'web', workItemId: 'T-42' },
    ]);
    expect(p.workItemsForBranch('acme/other', 'agent/T-42')).toEqual([]);
    expect(p.workItemsForBranch('acme/web', 'main')).toEqual([]);
  });

  it('explains invalid files', () => {
    expect(() => parseProjectPolicies('projects: { a: { ttl: "soon" } }')).toThrow(/projects\.a\.ttl/);
    expect(() =>
      parseProjectPolicies('projects: { a: { branchRules: [{ repository: "x/y", pattern: "(" }] } }'),
    ).toThrow(/regular expression/);
    expect(() => parseProjectPolicies('{"surprise": 1}')).toThrow(/surprise|Unrecognized/);
  });
});
