import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CONFIG_VARIABLES,
  OPERATIONS_DOC_VARIABLES,
  SECRET_FILE_VARIABLES,
  loadConfig,
  parseDuration,
} from '../../src/config/config.js';
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
    expect(c.reconcile).toEqual({ intervalMs: 300_000, orphanGraceMs: 600_000, minOrphanGraceMs: 30_000 });
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

  it("reads a merge's later looks, and refuses looks that could not work", () => {
    expect(loadConfig({ SNAPKEEPER_HOST_ID: 'h1' }).mergeLookDelaysSeconds).toEqual([10, 60]);
    expect(loadConfig({ SNAPKEEPER_MERGE_LOOKS: '5s, 2m' }).mergeLookDelaysSeconds).toEqual([5, 120]);
    for (const bad of ['0s', '2h', 'soon', '1s,2s,3s,4s,5s,6s', ''])
      expect(() => loadConfig({ SNAPKEEPER_MERGE_LOOKS: bad }), bad).toThrow(/SNAPKEEPER_MERGE_LOOKS/);
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

describe('secrets (issue 17: a secret read from a file broke every request)', () => {
  const TOKEN = 'a1b2c3d4e5f6a7b8c9d0';
  const SECRET = 'webhook-secret-0123456789';

  it('trims the newline a mounted secret ends with, for the token, the webhook secret and the API key', () => {
    const c = loadConfig({
      SNAPKEEPER_API_TOKEN: `${TOKEN}\n`,
      GITHUB_WEBHOOK_SECRET: `  ${SECRET}\r\n`,
      TEMPORAL_API_KEY: 'key-123\n',
    });
    expect(c.api.token).toBe(TOKEN);
    expect(c.github.webhookSecret).toBe(SECRET);
    expect(c.temporal.apiKey).toBe('key-123');
  });

  it('reads each secret from its _FILE variable, trimmed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'snapkeeper-secrets-'));
    const tokenFile = join(dir, 'token');
    const secretFile = join(dir, 'secret');
    writeFileSync(tokenFile, `${TOKEN}\n`);
    writeFileSync(secretFile, `${SECRET}\n`);
    const c = loadConfig({ SNAPKEEPER_API_TOKEN_FILE: tokenFile, GITHUB_WEBHOOK_SECRET_FILE: secretFile });
    expect(c.api.token).toBe(TOKEN);
    expect(c.github.webhookSecret).toBe(SECRET);
    expect(() => loadConfig({ SNAPKEEPER_API_TOKEN_FILE: join(dir, 'missing') })).toThrow(
      /SNAPKEEPER_API_TOKEN_FILE: cannot read .*missing/,
    );
    expect(() => loadConfig({ SNAPKEEPER_API_TOKEN_FILE: tokenFile, SNAPKEEPER_API_TOKEN: TOKEN })).toThrow(
      /SNAPKEEPER_API_TOKEN: set both SNAPKEEPER_API_TOKEN and SNAPKEEPER_API_TOKEN_FILE/,
    );
    writeFileSync(tokenFile, '\n');
    expect(() => loadConfig({ SNAPKEEPER_API_TOKEN_FILE: tokenFile })).toThrow(
      /SNAPKEEPER_API_TOKEN: SNAPKEEPER_API_TOKEN_FILE .* holds only whitespace/,
    );
  });

  it('stops at start-up, naming the variable, on a secret that cannot work', () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ SNAPKEEPER_API_TOKEN: ' \n' }, /SNAPKEEPER_API_TOKEN: .*only whitespace/],
      [{ SNAPKEEPER_API_TOKEN: 'abc def ghi jkl' }, /SNAPKEEPER_API_TOKEN: .*without whitespace/],
      [{ SNAPKEEPER_API_TOKEN: `${TOKEN}\n${TOKEN}` }, /SNAPKEEPER_API_TOKEN: .*without whitespace/],
      [{ SNAPKEEPER_API_TOKEN: 'tökenö-0123456789' }, /SNAPKEEPER_API_TOKEN: .*printable ASCII/],
      [{ SNAPKEEPER_API_TOKEN: 'changeme' }, /SNAPKEEPER_API_TOKEN: .*8 characters; use at least 12/],
      [{ GITHUB_WEBHOOK_SECRET: '\n' }, /GITHUB_WEBHOOK_SECRET: .*only whitespace/],
      [{ GITHUB_WEBHOOK_SECRET: `${SECRET}\n${SECRET}` }, /GITHUB_WEBHOOK_SECRET: .*one line/],
      [{ GITHUB_WEBHOOK_SECRET: 'secret' }, /GITHUB_WEBHOOK_SECRET: .*use at least 12/],
      [{ TEMPORAL_API_KEY: 'a b' }, /TEMPORAL_API_KEY: .*without whitespace/],
    ];
    for (const [env, message] of cases) {
      expect(() => loadConfig(env), JSON.stringify(env)).toThrow(message);
    }
    // The error names the variable, never the value.
    expect(() => loadConfig({ SNAPKEEPER_API_TOKEN: 'short-tok' })).not.toThrow(/short-tok/);
  });

  it('an empty variable is still unset (the API then warns that /v1 is open)', () => {
    expect(loadConfig({ SNAPKEEPER_API_TOKEN: '', GITHUB_WEBHOOK_SECRET: '' }).api.token).toBeUndefined();
  });

  it('every _FILE variable is documented in docs/operations.md', () => {
    const doc = readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8');
    expect(SECRET_FILE_VARIABLES.filter((name) => !doc.includes(`\`${name}\``))).toEqual([]);
    expect(OPERATIONS_DOC_VARIABLES.filter((name) => !doc.includes(`\`${name}\``))).toEqual([]);
  });
});

describe('orphan grace floor (issue 17: SNAPKEEPER_ORPHAN_GRACE accepted 0s)', () => {
  it.each(['0s', '1s', '29s', '0m'])(
    'refuses SNAPKEEPER_ORPHAN_GRACE=%s, naming the variable and the floor',
    (v) => {
      expect(() => loadConfig({ SNAPKEEPER_ORPHAN_GRACE: v })).toThrow(
        /SNAPKEEPER_ORPHAN_GRACE: .* is below the floor of 30s/,
      );
    },
  );

  it('accepts the floor and above', () => {
    expect(loadConfig({ SNAPKEEPER_ORPHAN_GRACE: '30s' }).reconcile.orphanGraceMs).toBe(30_000);
    expect(loadConfig({ SNAPKEEPER_ORPHAN_GRACE: '1m' }).reconcile.orphanGraceMs).toBe(60_000);
  });

  it('SNAPKEEPER_MIN_ORPHAN_GRACE lowers the floor (tests), never below 1s', () => {
    const c = loadConfig({ SNAPKEEPER_ORPHAN_GRACE: '1s', SNAPKEEPER_MIN_ORPHAN_GRACE: '1s' });
    expect(c.reconcile).toMatchObject({ orphanGraceMs: 1000, minOrphanGraceMs: 1000 });
    expect(() => loadConfig({ SNAPKEEPER_ORPHAN_GRACE: '0s', SNAPKEEPER_MIN_ORPHAN_GRACE: '0s' })).toThrow(
      /SNAPKEEPER_MIN_ORPHAN_GRACE: must be at least 1s/,
    );
    expect(() => loadConfig({ SNAPKEEPER_MIN_ORPHAN_GRACE: 'soon' })).toThrow(/SNAPKEEPER_MIN_ORPHAN_GRACE/);
  });
});
