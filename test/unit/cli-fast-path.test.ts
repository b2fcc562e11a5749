// The CLI's fast path (src/cli/fast-main.ts, bundled into dist/src/cli/fast-path.cjs and run first
// by src/cli/bin.cjs): for every argument list it accepts, it prints, exits and asks the HTTP API
// exactly as the full CLI (commander, program.ts) does; everything else it leaves to the full CLI
// without asking or printing anything. Then the bundle as `npm run build:cli` makes it, run by the
// bin in an installed layout and in a checkout whose sources changed. The HTTP API is a fake here
// (test/integration/cli-http.test.ts runs the real one).
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { runFastPath } from '../../src/cli/fast-main.js';
import { runCli } from '../../src/cli/program.js';

const ROOT = resolve(import.meta.dirname, '../..');
const run = promisify(execFile);

const b64 = (s: string) => Buffer.from(s).toString('base64');
const payload = (v: unknown) => ({ metadata: { encoding: b64('json/plain') }, data: b64(JSON.stringify(v)) });

// Times far enough from now that their relative forms ("in 3d 5h") cannot tick between two runs.
const NOW = Date.now();
const iso = (ms: number) => new Date(NOW + ms).toISOString();
const HOUR = 3_600_000;

function snapshot(projectId: string, workItemId: string) {
  return {
    projectId,
    workItemId,
    image: `snapkeeper-test/${projectId}:${workItemId}`,
    imageId: `sha256:${'ab'.repeat(32)}`,
    host: 'h1',
    state: 'active',
    createdAt: iso(-50.5 * HOUR),
    expiresAt: iso(77.5 * HOUR),
    lastUsedAt: iso(-26.5 * HOUR),
    sizeBytes: 2_000_000,
    ttlSeconds: 3600,
    slidingTtl: false,
    pullRequest: { repository: 'acme/web', number: 7 },
    endReason: null,
    blockedBy: null,
    message: null,
  };
}

function execution(i: number) {
  const s = snapshot('p1', `w${i}`);
  return {
    execution: { workflowId: `snapshot:p1:w${i}`, runId: `r${i}` },
    status: 'WORKFLOW_EXECUTION_STATUS_RUNNING',
    searchAttributes: {
      indexedFields: {
        SnapshotProjectId: payload(['p1']),
        SnapshotWorkItemId: payload([s.workItemId]),
        SnapshotImage: payload([s.image]),
        SnapshotHost: payload(['h1']),
        SnapshotState: payload(['active']),
        SnapshotExpiresAt: payload(s.expiresAt),
        SnapshotSizeBytes: payload(s.sizeBytes),
        SnapshotRepository: payload(['acme/web']),
        SnapshotPullRequest: payload(7),
      },
    },
  };
}

const EXECUTIONS = [1, 2, 3, 4, 5].map(execution);

/** What the fake frontend was asked: method and URL (bodies are all `{}`). */
let asked: string[] = [];
let server: Server;
let address: string;

function answer(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://x');
  asked.push(`${req.method} ${req.url}`);
  res.setHeader('content-type', 'application/json');
  const send = (status: number, body: unknown) => {
    res.statusCode = status;
    res.end(JSON.stringify(body));
  };
  // A namespace whose every answer is an error: the client path must answer instead.
  if (url.pathname.includes('/namespaces/broken/')) return send(500, { code: 13, message: 'broken' });
  const query = /\/workflows\/([^/]+)\/query\/state$/.exec(url.pathname);
  if (query) {
    const [, projectId, workItemId] = decodeURIComponent(query[1] ?? '').split(':');
    if (workItemId === 'missing') return send(404, { code: 5, message: 'workflow not found' });
    return send(200, {
      queryResult: {
        payloads: [payload({ current: snapshot(projectId!, workItemId!), retiring: [], last: null })],
      },
    });
  }
  const describe = /\/workflows\/([^/]+)$/.exec(url.pathname);
  if (describe) {
    if (decodeURIComponent(describe[1] ?? '').endsWith(':missing'))
      return send(404, { code: 5, message: 'workflow not found' });
    return send(200, { workflowExecutionInfo: { status: 'WORKFLOW_EXECUTION_STATUS_RUNNING' } });
  }
  if (url.pathname.endsWith('/workflows')) {
    const from = Number(url.searchParams.get('nextPageToken') ?? 0);
    const size = Number(url.searchParams.get('pageSize'));
    const page = EXECUTIONS.slice(from, from + size);
    const next = from + size < EXECUTIONS.length ? String(from + size) : '';
    return send(200, { executions: page, nextPageToken: next });
  }
  send(404, { code: 5, message: 'no such route' });
}

function capture() {
  const chunks: string[] = [];
  return { write: (c: string) => chunks.push(c) > 0, text: () => chunks.join('') };
}

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => answer(req, res));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((ok) => server.close(ok));
});

afterEach(() => {
  vi.unstubAllEnvs();
});

/** The environment both paths see: the fake frontend, nothing of the developer's shell. */
function stubEnvironment(extra: Record<string, string> = {}): void {
  vi.stubEnv('TEMPORAL_HTTP_ADDRESS', address);
  vi.stubEnv('TEMPORAL_NAMESPACE', undefined);
  // If a bug sent the full CLI to the client, it fails at once rather than finding a server.
  vi.stubEnv('TEMPORAL_ADDRESS', '127.0.0.1:1');
  vi.stubEnv('HOME', '/nonexistent');
  for (const [k, v] of Object.entries(extra)) vi.stubEnv(k, v);
}

async function viaFastPath(argv: string[]) {
  const stdout = capture();
  const stderr = capture();
  asked = [];
  const outcome = await runFastPath(argv, process.env, { stdout, stderr });
  return { outcome, stdout: stdout.text(), stderr: stderr.text(), asked: [...asked].sort() };
}

async function viaCommander(argv: string[]) {
  const stdout = capture();
  const stderr = capture();
  asked = [];
  const code = await runCli(argv, { stdout, stderr });
  return { code, stdout: stdout.text(), stderr: stderr.text(), asked: [...asked].sort() };
}

const ACCEPTED: string[][] = [
  ['show', 'p1', 'w1'],
  ['show', 'p1', 'w1', '--json'],
  ['show', '--json', 'p1', 'w1'],
  ['show', 'a.b/c', 'x_y-z'],
  ['show', 'p1', 'missing'],
  ['--namespace', 'ns1', 'show', 'p1', 'w1'],
  ['--namespace=ns1', 'show', 'p1', 'w1'],
  ['show', 'p1', 'w1', '--namespace', 'ns2'],
  ['ls'],
  ['ls', '--json'],
  ['ls', '--project', 'p1'],
  ['ls', '--project=p1', '--state', 'active', '--host', 'h1'],
  ['ls', '--state', 'removed'],
  ['ls', '--limit', '3'],
  ['ls', '--limit=2', '--json'],
  ['ls', '--limit', '2', '--limit', '4'],
  ['ls', '--limit', '1e1'],
  ['ls', '--json', '--json'],
  ['--namespace', 'ns1', 'ls', '--project', 'p1', '--namespace', 'ns2'],
];

const DECLINED: string[][] = [
  [],
  ['--help'],
  ['-h'],
  ['--version'],
  ['-V'],
  ['show', '--help'],
  ['ls', '-h'],
  ['show', 'p1'],
  ['show', 'p1', 'w1', 'extra'],
  ['show', '-p', 'w1'],
  ['show', 'bad id', 'w1'],
  ['ls', 'extra'],
  ['ls', '--limit', '0'],
  ['ls', '--limit', 'x'],
  ['ls', '--limit'],
  ['ls', '--state', 'nope'],
  ['ls', '--project', 'bad id'],
  ['ls', '--project', '-x'],
  ['ls', '--project='],
  ['ls', '--host', 'bad/host'],
  ['ls', '--bogus'],
  ['ls', '--json=yes'],
  ['ls', '--', 'x'],
  ['--address', 'h:1', 'ls'],
  ['ls', '--address', 'h:1'],
  ['--namespace'],
  ['--namespace', 'ns1', '--address', 'h:1', 'ls'],
  ['--namespace=', 'ls'],
  ['invalidate', 'p1', 'w1'],
  ['doctor'],
];

describe('the fast path reads arguments as commander does', () => {
  for (const argv of ACCEPTED) {
    it(`answers \`${argv.join(' ')}\` exactly as the full CLI does`, async () => {
      stubEnvironment();
      const fast = await viaFastPath(argv);
      const full = await viaCommander(argv);
      expect(fast.outcome).toEqual({ answered: full.code });
      expect(fast.stdout).toBe(full.stdout);
      expect(fast.stderr).toBe(full.stderr);
      expect(fast.asked).toEqual(full.asked);
      // Something was asked and printed: the comparison compares something.
      expect(full.asked.length).toBeGreaterThan(0);
      expect(full.stdout.length + full.stderr.length).toBeGreaterThan(0);
    });
  }

  it('leaves every other argument list to the full CLI, asking and printing nothing', async () => {
    stubEnvironment();
    for (const argv of DECLINED) {
      const fast = await viaFastPath(argv);
      expect(fast, argv.join(' ')).toEqual({
        outcome: { triedHttp: false },
        stdout: '',
        stderr: '',
        asked: [],
      });
    }
  });

  it('an answer that is not one hands over as tried, said once and only at debug level', async () => {
    stubEnvironment();
    const quiet = await viaFastPath(['--namespace', 'broken', 'show', 'p1', 'w1']);
    expect(quiet).toMatchObject({ outcome: { triedHttp: true }, stdout: '', stderr: '' });
    expect(quiet.asked.length).toBeGreaterThan(0);
    stubEnvironment({ SNAPKEEPER_LOG_LEVEL: 'debug' });
    const debug = await viaFastPath(['--namespace', 'broken', 'ls']);
    expect(debug.outcome).toEqual({ triedHttp: true });
    expect(debug.stderr.match(/HTTP fast path not taken \(HTTP 500: broken\)/g)).toHaveLength(1);
  });

  it('an invalid TEMPORAL_HTTP_ADDRESS is the full CLI’s to report', async () => {
    stubEnvironment({ TEMPORAL_HTTP_ADDRESS: 'not an address' });
    expect(await viaFastPath(['ls'])).toEqual({
      outcome: { triedHttp: false },
      stdout: '',
      stderr: '',
      asked: [],
    });
  });
});

describe('the bundle, run by the bin', () => {
  let dir: string;
  let bundleText: string;
  const fastPathFiles = (pkg: string) => ({
    bundle: join(pkg, 'dist', 'src', 'cli', 'fast-path.cjs'),
    meta: join(pkg, 'dist', 'src', 'cli', 'fast-path.meta.json'),
  });

  /** A package layout with bin.cjs and the bundle as `npm run build:cli` makes it, and no main.js. */
  async function layout(name: string): Promise<string> {
    const pkg = join(dir, name);
    await mkdir(join(pkg, 'src', 'cli'), { recursive: true });
    await mkdir(join(pkg, 'dist', 'src', 'cli'), { recursive: true });
    await copyFile(join(ROOT, 'src', 'cli', 'bin.cjs'), join(pkg, 'src', 'cli', 'bin.cjs'));
    await copyFile(join(dir, 'fast-path.cjs'), fastPathFiles(pkg).bundle);
    await copyFile(join(dir, 'fast-path.meta.json'), fastPathFiles(pkg).meta);
    return pkg;
  }

  async function bin(pkg: string, args: string[], env: Record<string, string> = {}) {
    const childEnv = {
      PATH: process.env.PATH ?? '',
      HOME: '/nonexistent',
      TEMPORAL_HTTP_ADDRESS: address,
      ...env,
    };
    try {
      const { stdout, stderr } = await run(process.execPath, [join(pkg, 'src', 'cli', 'bin.cjs'), ...args], {
        env: childEnv,
        timeout: 30_000,
      });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code?: unknown; stdout?: string; stderr?: string };
      if (typeof e.code !== 'number') throw err;
      return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    }
  }

  beforeAll(async () => {
    // Outside the checkout, so neither tsx nor the compiled CLI can be found from the layouts.
    dir = await mkdtemp(join(tmpdir(), 'snapkeeper-fast-path-'));
    await run(
      'npm',
      [
        'run',
        'build:cli',
        '--',
        `--outfile=${join(dir, 'fast-path.cjs')}`,
        `--metafile=${join(dir, 'fast-path.meta.json')}`,
      ],
      { cwd: ROOT },
    );
    bundleText = await readFile(join(dir, 'fast-path.cjs'), 'utf8');
  }, 120_000);

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is one CommonJS file that requires Node built-ins only', () => {
    const required = [...bundleText.matchAll(/\brequire\(["']([^"']+)["']\)/g)].map((m) => m[1]);
    expect(required.length).toBeGreaterThan(0);
    expect(required.filter((r) => !r?.startsWith('node:'))).toEqual([]);
    expect(bundleText).not.toMatch(/\bimport\(/);
  });

  it('answers show and ls in an installed layout, and hands anything else to the full CLI', async () => {
    stubEnvironment();
    const pkg = await layout('installed');
    for (const argv of [
      ['show', 'p1', 'w1'],
      ['ls', '--project', 'p1', '--limit', '2'],
      ['show', 'p1', 'missing'],
    ]) {
      const expected = await viaFastPath(argv);
      expect(await bin(pkg, argv), argv.join(' ')).toEqual({
        code: expected.outcome.answered,
        stdout: expected.stdout,
        stderr: expected.stderr,
      });
    }
    // No dist/src/cli/main.js in this layout: the full CLI's absence shows the hand-over.
    const handedOver = await bin(pkg, ['--version']);
    expect(handedOver.code).toBe(2);
    expect(handedOver.stderr).toMatch(/neither dist\/ .* nor tsx/);
    const tried = await bin(pkg, ['--namespace', 'broken', 'ls'], { SNAPKEEPER_LOG_LEVEL: 'debug' });
    expect(tried.code).toBe(2);
    expect(tried.stderr).toMatch(/HTTP fast path not taken \(HTTP 500: broken\)/);
  });

  it('in a checkout, runs only while none of its sources changed since the build', async () => {
    const pkg = await layout('checkout');
    // The sources it was bundled from, older than the bundle; and main.ts, which makes it a checkout.
    const { inputs } = JSON.parse(await readFile(fastPathFiles(pkg).meta, 'utf8')) as {
      inputs: Record<string, unknown>;
    };
    const files = Object.keys(inputs);
    expect(files).toContain('src/cli/fast-main.ts');
    const past = new Date(Date.now() - HOUR);
    for (const file of [...files, 'src/cli/main.ts']) {
      await mkdir(dirname(join(pkg, file)), { recursive: true });
      await writeFile(join(pkg, file), '// a source\n');
      await utimes(join(pkg, file), past, past);
    }
    const fresh = await bin(pkg, ['show', 'p1', 'w1']);
    expect(fresh.code).toBe(0);
    expect(fresh.stdout).toContain('p1/w1  workflow snapshot:p1:w1 (running)');
    // One source edited after the build: the bundle no longer speaks for the sources.
    await writeFile(join(pkg, 'src', 'cli', 'show-output.ts'), '// edited\n');
    const stale = await bin(pkg, ['show', 'p1', 'w1']);
    expect(stale.code).toBe(2);
    expect(stale.stdout).toBe('');
    expect(stale.stderr).toMatch(/neither dist\/ .* nor tsx/);
  });
});
