// The CLI's HTTP fast path (src/cli/temporal-http*.ts): payloads as the frontend's HTTP API writes
// them read as the SDK reads them, the endpoint is validated and declined when only the client can
// answer, and the path's modules load no heavy package (the point of it).
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Payload } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/cli/cli-errors.js';
import {
  FastPathDeclined,
  decodeAttribute,
  decodePayload,
  httpEndpoint,
  statusName,
  statusNumber,
} from '../../src/cli/temporal-http.js';
import { httpSnapshotSummary } from '../../src/cli/temporal-http-ls.js';
import { toSnapshotSummary } from '../../src/service/list-snapshots.js';
import type { RawExecutionInfo } from '../../src/service/visibility.js';
import { execution, state } from './api-fakes.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

/** A payload as grpc-gateway writes it: bytes as base64. */
function asHttp(p: Payload): { metadata: Record<string, string>; data: string } {
  return {
    metadata: Object.fromEntries(
      Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v as Uint8Array).toString('base64')]),
    ),
    data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
  };
}

const STATUS_NAMES = [
  '',
  'RUNNING',
  'COMPLETED',
  'FAILED',
  'CANCELED',
  'TERMINATED',
  'CONTINUED_AS_NEW',
  'TIMED_OUT',
];

function asHttpExecution(raw: RawExecutionInfo) {
  return {
    execution: { workflowId: raw.execution?.workflowId ?? '' },
    status: `WORKFLOW_EXECUTION_STATUS_${STATUS_NAMES[raw.status ?? 0]}`,
    searchAttributes: {
      indexedFields: Object.fromEntries(
        Object.entries(raw.searchAttributes?.indexedFields ?? {}).map(([k, p]) => [k, asHttp(p)]),
      ),
    },
  };
}

describe('payloads over the HTTP API', () => {
  it('reads json/plain as JSON, binary/null as undefined, a shorthand value as itself', () => {
    // Seen from the dev server: a Keyword search attribute.
    expect(
      decodePayload({
        metadata: { encoding: 'anNvbi9wbGFpbg==', type: 'S2V5d29yZA==' },
        data: 'ImFjdGl2ZSI=',
      }),
    ).toBe('active');
    expect(decodePayload({ metadata: { encoding: b64('json/plain') }, data: b64('{"a":[1,null]}') })).toEqual(
      {
        a: [1, null],
      },
    );
    expect(decodePayload({ metadata: { encoding: b64('binary/null') } })).toBeUndefined();
    // Seen from the dev server: memo and query results in JSON shorthand.
    expect(decodePayload({ current: null })).toEqual({ current: null });
    expect(decodePayload(undefined)).toBeUndefined();
  });

  it('refuses an encoding it does not read (the client path answers then)', () => {
    const p = { metadata: { encoding: b64('binary/encrypted') }, data: b64('x') };
    expect(() => decodePayload(p)).toThrow(/binary\/encrypted/);
    expect(decodeAttribute(p)).toBeUndefined();
    expect(
      decodeAttribute({ metadata: { encoding: b64('json/plain') }, data: b64('not json') }),
    ).toBeUndefined();
    expect(decodeAttribute({ metadata: { encoding: b64('json/plain') }, data: b64('["o/r"]') })).toBe('o/r');
  });

  it('names statuses as the SDK does', () => {
    expect(statusName('WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW')).toBe('continued_as_new');
    expect(statusNumber('WORKFLOW_EXECUTION_STATUS_TIMED_OUT')).toBe(7);
    expect(statusNumber('WORKFLOW_EXECUTION_STATUS_RUNNING')).toBe(1);
    expect(statusNumber(undefined)).toBe(0);
  });

  it('an execution over HTTP makes the same summary as over gRPC', () => {
    const withPr = state('p1', 'w1', {
      pullRequest: { repository: 'acme/web', number: 42 },
      sizeBytes: 123_456_789,
    });
    for (const [s, status] of [
      [withPr, 1],
      [state('p1', 'w-2', { state: 'removed' }), 2],
      [state('p%2', 'w3', { state: 'removal-blocked' }), 6],
    ] as const) {
      const raw = execution(s, status);
      const viaSdk = toSnapshotSummary(raw);
      expect(viaSdk).toBeDefined();
      expect(httpSnapshotSummary(asHttpExecution(raw))).toEqual(viaSdk);
    }
  });
});

describe('the HTTP endpoint', () => {
  const env = (vars: NodeJS.ProcessEnv): NodeJS.ProcessEnv => ({ HOME: '/nonexistent', ...vars });

  it('is off without TEMPORAL_HTTP_ADDRESS, and built from it and the namespace', () => {
    expect(httpEndpoint(env({}), {})).toBeUndefined();
    expect(httpEndpoint(env({ TEMPORAL_HTTP_ADDRESS: '127.0.0.1:7243' }), {})).toEqual({
      base: 'http://127.0.0.1:7243/api/v1/namespaces/default',
    });
    expect(
      httpEndpoint(env({ TEMPORAL_HTTP_ADDRESS: 'http://temporal:7243/', TEMPORAL_NAMESPACE: 'a/b' }), {}),
    ).toEqual({ base: 'http://temporal:7243/api/v1/namespaces/a%2Fb' });
    expect(
      httpEndpoint(env({ TEMPORAL_HTTP_ADDRESS: 'h:1', TEMPORAL_NAMESPACE: 'x' }), { namespace: 'y' }),
    ).toEqual({
      base: 'http://h:1/api/v1/namespaces/y',
    });
  });

  it('refuses an address that is not host:port', () => {
    for (const bad of ['temporal', 'https://h:7243', 'h:0', 'h:70000', 'h:1/path', 'user@h:1'])
      expect(() => httpEndpoint(env({ TEMPORAL_HTTP_ADDRESS: bad }), {})).toThrow(UsageError);
  });

  it('leaves TLS, API keys, profiles, gRPC headers and --address to the client', () => {
    for (const extra of [
      { TEMPORAL_API_KEY: 'k' },
      { TEMPORAL_TLS: 'true' },
      { TEMPORAL_TLS_SERVER_CA_CERT_PATH: '/ca' },
      { TEMPORAL_PROFILE: 'prod' },
      { TEMPORAL_CONFIG_FILE: '/c.toml' },
      { TEMPORAL_GRPC_META_X: 'y' },
    ])
      expect(() => httpEndpoint(env({ TEMPORAL_HTTP_ADDRESS: 'h:1', ...extra }), {})).toThrow(
        FastPathDeclined,
      );
    expect(() => httpEndpoint(env({ TEMPORAL_HTTP_ADDRESS: 'h:1' }), { address: 'other:7233' })).toThrow(
      FastPathDeclined,
    );
  });
});

describe('the fast path loads no heavy module', () => {
  const ROOT = resolve(import.meta.dirname, '../..');
  /** Value imports of a module and of what it imports, as Node loads them (type imports are erased). */
  function graph(entry: string): { files: string[]; packages: string[] } {
    const files = new Set<string>();
    const packages = new Set<string>();
    const pattern = /^\s*(?:import|export)\s+(?!type\s)(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/gm;
    const visit = (file: string) => {
      if (files.has(file)) return;
      files.add(file);
      for (const m of readFileSync(file, 'utf8').matchAll(pattern)) {
        const spec = m[1] as string;
        if (spec.startsWith('.')) visit(join(dirname(file), spec.replace(/\.js$/, '.ts')));
        else packages.add(spec);
      }
    };
    visit(join(ROOT, entry));
    return { files: [...files].map((f) => f.slice(ROOT.length + 1)), packages: [...packages] };
  }

  for (const entry of ['src/cli/temporal-http-show.ts', 'src/cli/temporal-http-ls.ts']) {
    it(`${entry} imports Node built-ins and dependency-free modules only`, () => {
      const { files, packages } = graph(entry);
      expect(packages.filter((p) => !p.startsWith('node:'))).toEqual([]);
      expect(files).not.toContain('src/cli/runtime.ts');
      expect(files).not.toContain('src/config/config.ts');
      expect(files).not.toContain('src/service/list-snapshots.ts');
    });
  }

  it('the walk sees the client path’s heavy imports (the check can fail)', () => {
    expect(graph('src/cli/commands/ls.ts').packages).toContain('@temporalio/common');
    expect(graph('src/cli/commands/show.ts').packages).toContain('@temporalio/client');
  });
});
