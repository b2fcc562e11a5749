// B8: how soon the operator CLI answers, as an operator of an installed package runs it (its bin,
// src/cli/bin.cjs, which runs the fast path's bundle or the compiled dist/), beside what any CLI on
// this machine pays in the same run:
// a bare `node -e 0` for `--help`/`--version`, and the `temporal` CLI's `workflow describe` /
// `workflow list` of the same workflows for `show` / `ls`. Every command is a fresh process, timed
// from spawn to exit; the commands take turns round by round so the machine's load falls on all.
import { execFile } from 'node:child_process';
import { access, copyFile, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoPath } from '../scripts/lib/repo-root.js';
import { ensureTemporal } from '../scripts/lib/ensure-temporal.js';
import { buildListQuery } from '../src/service/list-snapshots.js';
import { snapshotWorkflowId } from '../src/contract/names.js';
import type { BenchContext } from './bench-context.js';
import { sizeOf } from './bench-context.js';
import { commitImages } from './bench-images.js';
import type { BenchResult, Measure, Row } from './result-types.js';
import { childEnv } from './snapkeeper-stack.js';
import { summarize, wallMs } from './stats.js';

const run = promisify(execFile);

/**
 * The CLI as an installed package has it: package.json, src/cli/bin.cjs, the compiled dist/ and the
 * fast path's bundle (npm run build:cli), no TypeScript sources. Compiled afresh into a scratch directory inside the checkout (so Node finds
 * node_modules above it): in a checkout where others edit src/, bin.mjs would rightly fall back to
 * tsx for a dist/ older than the sources, and the bench would time that instead.
 */
async function installLikeCli(ctx: BenchContext): Promise<string> {
  const root = repoPath('.scratch', `b8-cli-${ctx.run}`);
  ctx.progress(`B8: compiling the CLI into ${root} (tsc -p tsconfig.build.json)`);
  await rm(root, { recursive: true, force: true });
  await mkdir(join(root, 'src', 'cli'), { recursive: true });
  // The client workspace's dist/, which tsconfig.build.json resolves through node_modules.
  await run('npm', ['run', 'build', '--workspace', '@snapkeeper/client'], { cwd: repoPath() });
  await run(
    process.execPath,
    [
      repoPath('node_modules', 'typescript', 'bin', 'tsc'),
      '-p',
      'tsconfig.build.json',
      '--outDir',
      join(root, 'dist'),
    ],
    { cwd: repoPath() },
  );
  // The build's own command, written to this layout (esbuild keeps the last --outfile/--metafile).
  const fastPath = join(root, 'dist', 'src', 'cli', 'fast-path.cjs');
  await run(
    'npm',
    [
      'run',
      'build:cli',
      '--',
      `--outfile=${fastPath}`,
      `--metafile=${join(root, 'dist', 'src', 'cli', 'fast-path.meta.json')}`,
    ],
    { cwd: repoPath() },
  );
  await access(fastPath);
  await copyFile(repoPath('package.json'), join(root, 'package.json'));
  await copyFile(repoPath('src', 'cli', 'bin.cjs'), join(root, 'src', 'cli', 'bin.cjs'));
  return root;
}

interface Command {
  what: string;
  file: string;
  args: string[];
  /** Exit codes that count as an answer (e.g. none of snapkeeper's `show` for a missing item). */
  ok?: number[];
  /** Instead of the run's environment. */
  env?: NodeJS.ProcessEnv;
  /** False for a command this run cannot time (the fast path without an HTTP API). */
  runs?: boolean;
}

async function timeOnce(cmd: Command, runEnv: NodeJS.ProcessEnv): Promise<number> {
  const env = cmd.env ?? runEnv;
  const t0 = wallMs();
  try {
    await run(cmd.file, cmd.args, { cwd: repoPath(), env, maxBuffer: 16 * 1024 * 1024, timeout: 120_000 });
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code !== 'number' || !(cmd.ok ?? [0]).includes(code)) throw err;
  }
  return wallMs() - t0;
}

/**
 * A Node script that sends what the fast `show` sends (describe and the state query, at once, each
 * one HTTP/1.1 exchange over node:net as src/cli/http-exchange.ts makes it) and exits when both
 * answered: the requests' share of the fast show's time.
 */
function showRequestsScript(httpAddress: string | null, workflowId: string): string {
  const target = new URL(`http://${(httpAddress ?? '').replace(/^http:\/\//, '')}`);
  const path = `/api/v1/namespaces/default/workflows/${encodeURIComponent(workflowId)}`;
  const request = (method: string, url: string, body?: string) =>
    [
      `${method} ${url} HTTP/1.1`,
      `host: ${target.host}`,
      'connection: close',
      'accept: application/json',
      ...(body !== undefined ? ['content-type: application/json', `content-length: ${body.length}`] : []),
      '',
      body ?? '',
    ].join('\r\n');
  return [
    "const net = require('node:net');",
    `const ask = (text) => new Promise((ok, no) => { const s = net.connect(${Number(target.port)}, ${JSON.stringify(target.hostname.replace(/^\[(.*)\]$/, '$1'))}); s.on('data', () => {}); s.on('end', ok); s.on('error', no); s.write(text); });`,
    `Promise.all([ask(${JSON.stringify(request('GET', `${path}?noPayloadShorthand=true`))}), ask(${JSON.stringify(request('POST', `${path}/query/state?noPayloadShorthand=true`, '{}'))})]).catch((e) => { console.error(e); process.exitCode = 1; });`,
  ].join('\n');
}

/**
 * The fast show's median split into what Node costs anyway, what the bundle costs to load, what its
 * two requests cost on their own, and the rest (arguments, decoding, printing, exit): differences of
 * medians of separate processes, so an estimate, not a trace.
 */
function fastShowBreakdown(median: (k: 'node' | 'fastLoad' | 'showRequests' | 'showHttp') => number): string {
  const node = median('node');
  const load = median('fastLoad') - node;
  const requests = median('showRequests') - node;
  const rest = median('showHttp') - node - load - requests;
  const ms = (v: number) => `${v.toFixed(1)} ms`;
  return `Fast show, where the time goes (differences of medians of separate processes: an estimate, not a trace): node start ${ms(node)}; loading the bundle ${ms(load)}; describe + state query over node:net ${ms(requests)}; the rest (arguments, decoding, printing, exit) ${ms(rest)}; total ${ms(median('showHttp'))}.`;
}

function latency(label: string, samples: number[]): Measure {
  return { kind: 'latency', label, summary: summarize(samples) };
}

export async function runB8(ctx: BenchContext): Promise<BenchResult> {
  const rounds = sizeOf(ctx, 'B8', 7, 21);
  const items = ctx.options.size === 'quick' ? 20 : 100;
  const installed = await installLikeCli(ctx);
  const { temporalCliPath } = await ensureTemporal();

  // The same workflows for both CLIs: `items` registered snapshots of one project.
  const projectId = `b8-${ctx.run}`;
  ctx.progress(`B8: registering ${items} snapshots`);
  const images = await commitImages(ctx.docker, {
    baseImage: ctx.environment.baseImage,
    repository: `bench-b8/${ctx.run}`,
    ids: Array.from({ length: items }, (_, i) => ({ projectId, workItemId: `item-${i}` })),
  });
  for (const img of images) {
    await ctx.stack.api.register({
      projectId: img.projectId,
      workItemId: img.workItemId,
      image: img.image,
      host: ctx.stack.hostId,
    });
  }
  const shown = images[Math.floor(items / 2)]!;
  const query = buildListQuery({ projectId });
  // `ls` reads visibility, which trails the registrations: wait until both CLIs would see them all.
  const deadline = Date.now() + 60_000;
  for (;;) {
    const { count } = await ctx.stack.client.workflowService.countWorkflowExecutions({
      namespace: 'default',
      query,
    });
    if (Number(count) >= items) break;
    if (Date.now() > deadline) throw new Error(`visibility shows ${String(count)} of ${items} snapshots`);
    await new Promise((r) => setTimeout(r, 250));
  }

  const address = ctx.environment.temporalAddress;
  const env = childEnv({ TEMPORAL_ADDRESS: address, TEMPORAL_NAMESPACE: 'default' });
  // The fast path (TEMPORAL_HTTP_ADDRESS, docs/cli.md) needs the dev server's HTTP API; the cluster has none here.
  const httpAddress = ctx.environment.temporalHttpAddress;
  const httpEnv = httpAddress ? { ...env, TEMPORAL_HTTP_ADDRESS: httpAddress } : undefined;
  const node = process.execPath;
  const bin = join(installed, 'src', 'cli', 'bin.cjs');
  const bundle = join(installed, 'dist', 'src', 'cli', 'fast-path.cjs');
  const temporal = (args: string[]): Command => ({
    what: `temporal ${args[0]} ${args[1] ?? ''}`.trim(),
    file: temporalCliPath,
    args: [...args, '--address', address, '--namespace', 'default'],
  });
  const commands = {
    node: { what: 'node -e 0', file: node, args: ['-e', '0'] },
    help: { what: 'snapkeeper --help', file: node, args: [bin, '--help'] },
    version: { what: 'snapkeeper --version', file: node, args: [bin, '--version'] },
    helpTsx: {
      what: 'snapkeeper --help from the sources (tsx, no build)',
      file: node,
      args: ['--import', 'tsx', repoPath('src', 'cli', 'main.ts'), '--help'],
    },
    temporalHelp: { what: 'temporal --help', file: temporalCliPath, args: ['--help'] },
    // The floor of any CLI built on the SDK: a process that only loads the Temporal client.
    sdk: {
      what: 'node -e "import(\'@temporalio/client\')"',
      file: node,
      args: ['-e', "import('@temporalio/client')"],
    },
    show: { what: 'snapkeeper show', file: node, args: [bin, 'show', projectId, shown.workItemId] },
    showHttp: {
      what: 'snapkeeper show (TEMPORAL_HTTP_ADDRESS)',
      file: node,
      args: [bin, 'show', projectId, shown.workItemId],
      ...(httpEnv ? { env: httpEnv } : { runs: false }),
    },
    describe: temporal([
      'workflow',
      'describe',
      '--workflow-id',
      snapshotWorkflowId(projectId, shown.workItemId),
    ]),
    ls: { what: 'snapkeeper ls --project', file: node, args: [bin, 'ls', '--project', projectId] },
    lsHttp: {
      what: 'snapkeeper ls --project (TEMPORAL_HTTP_ADDRESS)',
      file: node,
      args: [bin, 'ls', '--project', projectId],
      ...(httpEnv ? { env: httpEnv } : { runs: false }),
    },
    list: temporal(['workflow', 'list', '--query', query]),
    // Where the fast show's time goes (the breakdown below): Node loading the bundle and nothing
    // else, and Node sending show's two requests over node:net and nothing else.
    fastLoad: {
      what: 'node: require the fast path bundle only',
      file: node,
      args: ['-e', `require(${JSON.stringify(bundle)})`],
      ...(httpEnv ? {} : { runs: false }),
    },
    showRequests: {
      what: "node: show's describe and state query over node:net only",
      file: node,
      args: ['-e', showRequestsScript(httpAddress, snapshotWorkflowId(projectId, shown.workItemId))],
      ...(httpEnv ? {} : { runs: false }),
    },
  } satisfies Record<string, Command>;
  const samples = Object.fromEntries(Object.keys(commands).map((k) => [k, [] as number[]])) as Record<
    keyof typeof commands,
    number[]
  >;
  // One round of each first (the page cache, the worker's first query), not counted.
  for (const cmd of Object.values<Command>(commands)) if (cmd.runs !== false) await timeOnce(cmd, env);
  ctx.progress(`B8: ${rounds} rounds of ${Object.keys(commands).length} commands`);
  for (let round = 0; round < rounds; round++) {
    for (const [key, cmd] of Object.entries(commands) as Array<[keyof typeof commands, Command]>) {
      if (cmd.runs === false) continue;
      samples[key].push(await timeOnce(cmd, env));
    }
  }

  await rm(installed, { recursive: true, force: true });

  const median = (k: keyof typeof commands) => summarize(samples[k]).median;
  const row = (
    measured: keyof typeof commands,
    baseline: keyof typeof commands,
    goal?: { ratio: number; text: string },
  ): Row => {
    const ratio = median(measured) / median(baseline);
    return {
      what: commands[measured].what,
      measured: latency(commands[measured].what, samples[measured]),
      baseline: latency(commands[baseline].what, samples[baseline]),
      ratio,
      ...(goal ? { goal: goal.text, met: ratio <= goal.ratio } : {}),
    };
  };
  return {
    id: 'B8',
    title: 'CLI answer time against bare Node and the temporal CLI',
    parameters: {
      rounds,
      snapshots: items,
      cli: 'node src/cli/bin.cjs → dist/src/cli/fast-path.cjs (with TEMPORAL_HTTP_ADDRESS) or dist/src/cli/main.js (package layout)',
    },
    rows: [
      row('help', 'node', { ratio: 3, text: '≤ 3× node -e 0' }),
      row('version', 'node'),
      ...(httpEnv
        ? [
            row('showHttp', 'describe', { ratio: 2, text: '≤ 2× temporal workflow describe' }),
            row('lsHttp', 'list', { ratio: 2, text: '≤ 2× temporal workflow list' }),
            row('show', 'describe'),
            row('ls', 'list'),
          ]
        : [
            row('show', 'describe', { ratio: 2, text: '≤ 2× temporal workflow describe' }),
            row('ls', 'list', { ratio: 2, text: '≤ 2× temporal workflow list' }),
          ]),
      row('helpTsx', 'node'),
      row('temporalHelp', 'node'),
      row('sdk', 'node'),
      ...(httpEnv ? [row('fastLoad', 'node'), row('showRequests', 'node')] : []),
    ],
    notes: [
      'Each sample is a fresh process timed from spawn to exit by the bench (Node’s own start included); medians, the commands taking turns every round.',
      `snapkeeper show = describe + the workflow's state query (answered by the worker); temporal workflow describe = one describe. ls and list run the same visibility query over ${items} open workflows of one project.`,
      'snapkeeper show/ls load the configuration schema and @temporalio/client (gRPC and the API protos) before their first call: that load, not the calls, is most of their time.',
      "With TEMPORAL_HTTP_ADDRESS (the dev server started with --http-port) show/ls take the HTTP fast path: bin.cjs (CommonJS, no ES module loader) loads one bundled file (npm run build:cli) and asks the frontend's HTTP API with one HTTP/1.1 exchange per request over node:net; no commander, no configuration schema, no SDK; same output (test/integration/cli-http.test.ts, test/unit/cli-fast-path.test.ts).",
      ...(httpEnv ? [fastShowBreakdown(median)] : []),
    ],
  };
}
