// `snapkeeper`: the operator CLI. Commands are thin: they parse, call src/service operations and
// print. Every outcome maps to one of the documented exit codes (exit-codes.ts).
//
// Start-up is what an operator waits for on every command, so this module loads only commander and
// modules without dependencies: `--help`, `--version` and argument errors never load the
// configuration schema or the Temporal client (about a second of module loading). Each command's
// action imports its own module, and the runtime (configuration, Temporal session) is made on first
// use. Keep it so: a static import of src/service, src/temporal, runtime.ts or a command here undoes it
// (test/unit/cli-lazy-load.test.ts checks what --help loads).
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { parseDuration } from '../config/duration.js';
import { SNAPSHOT_STATUSES } from '../contract/snapshot-types.js';
import { HOST_ID_PATTERN, ID_PATTERN, REASON_MAX_LENGTH } from '../contract/limits.js';
import { positiveIntOf } from './arg-values.js';
import { TemporalUnreachable, UsageError } from './cli-errors.js';
import { ExitCode } from './exit-codes.js';
import type { GlobalOptions, OutputStream, Runtime } from './runtime.js';
import { packageVersion } from './version.js';

const GRPC_UNAVAILABLE = 14;
const GRPC_DEADLINE_EXCEEDED = 4;

function hostId(value: string): string {
  if (!HOST_ID_PATTERN.test(value))
    throw new InvalidArgumentError('not a host id (letters, digits, ".", "_", "-").');
  return value;
}

function id(value: string): string {
  if (!ID_PATTERN.test(value)) throw new InvalidArgumentError('not a valid id.');
  return value;
}

function hosts(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), hostId(value)];
}

function durationMs(value: string): number {
  try {
    return parseDuration(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

function positiveInt(value: string): number {
  const n = positiveIntOf(value);
  if (n === undefined) throw new InvalidArgumentError('must be a positive integer.');
  return n;
}

function reason(value: string): string {
  if (value.length < 1 || value.length > REASON_MAX_LENGTH)
    throw new InvalidArgumentError(`must be 1 to ${REASON_MAX_LENGTH} characters.`);
  return value;
}

/** The runtime, made on a command's first call (it loads the configuration and the Temporal client). */
export type RuntimeSource = () => Promise<Runtime>;

export function buildProgram(
  setCode: (code: number) => void,
  runtime: RuntimeSource,
  streams: { stdout: OutputStream; stderr: OutputStream } = {
    stdout: process.stdout,
    stderr: process.stderr,
  },
): Command {
  const program = new Command('snapkeeper')
    .description(
      'Operate snapkeeper: list, inspect and end snapshots, reconcile, drain hosts, check the set-up.',
    )
    .version(packageVersion(), '-V, --version', 'the version of snapkeeper')
    .option('--address <host:port>', 'Temporal frontend (default: TEMPORAL_ADDRESS, then localhost:7233)')
    .option('--namespace <name>', 'Temporal namespace (default: TEMPORAL_NAMESPACE, then default)')
    .showHelpAfterError()
    .addHelpText(
      'after',
      '\nExit status: 0 ok, 1 a problem was found or an operation did not finish, 2 bad arguments or\nconfiguration, 3 no such snapshot, 4 Temporal unreachable.',
    );

  program
    .command('ls')
    .description('List snapshots (open workflows; with --state removed, closed ones too) from visibility')
    .option('--project <projectId>', 'only this project', id)
    .addOption(new Option('--state <state>', 'only this state').choices(SNAPSHOT_STATUSES))
    .option('--host <hostId>', 'only this Docker host', hostId)
    .option('--limit <n>', 'at most this many', positiveInt, 1000)
    .option('--json', 'JSON array on stdout')
    .action(async (options) => {
      // With TEMPORAL_HTTP_ADDRESS, the HTTP fast path answers without loading the client (docs/cli.md).
      const { lsOverHttp } = await import('./temporal-http-ls.js');
      const fast = await lsOverHttp(process.env, program.opts<GlobalOptions>(), streams, options);
      if (fast !== undefined) return setCode(fast);
      const { runLs } = await import('./commands/ls.js');
      setCode(await runLs(await runtime(), options));
    });

  program
    .command('show')
    .description('Show what a work item holds: its current image and the images leaving the disk')
    .argument('<projectId>', 'project id', id)
    .argument('<workItemId>', 'work item id', id)
    .option('--json', 'JSON on stdout')
    .action(async (projectId: string, workItemId: string, options) => {
      const { showOverHttp } = await import('./temporal-http-show.js');
      const fast = await showOverHttp(
        process.env,
        program.opts<GlobalOptions>(),
        streams,
        projectId,
        workItemId,
        options,
      );
      if (fast !== undefined) return setCode(fast);
      const { runShow } = await import('./commands/show.js');
      setCode(await runShow(await runtime(), projectId, workItemId, options));
    });

  program
    .command('explain')
    .description('Why an image stays on its host, or why it would go (reads the engine of DOCKER_HOST)')
    .argument('<image>', 'image reference or id')
    .option('--host <hostId>', 'the host id of that engine (default: SNAPKEEPER_HOST_ID)', hostId)
    .option('--json', 'JSON on stdout: { verdict, reasons, ... }')
    .action(async (image: string, options) => {
      const { runExplain } = await import('./commands/explain.js');
      setCode(await runExplain(await runtime(), image, options));
    });

  program
    .command('invalidate')
    .description("End a work item's current snapshot: its image leaves the disk")
    .argument('<projectId>', 'project id', id)
    .argument('<workItemId>', 'work item id', id)
    .option('--reason <text>', 'recorded in the workflow', reason, 'invalidated with the snapkeeper CLI')
    .option('--wait', 'wait until the image is gone from its host')
    .option('--timeout <duration>', 'how long --wait waits (30s, 5m)', durationMs, 120_000)
    .option('--json', 'JSON on stdout')
    .action(async (projectId: string, workItemId: string, options) => {
      const { runInvalidate } = await import('./commands/invalidate.js');
      setCode(
        await runInvalidate(await runtime(), projectId, workItemId, {
          ...options,
          timeoutMs: options.timeout,
        }),
      );
    });

  program
    .command('reconcile')
    .description('Reconcile now: remove managed images no open snapshot owns (older than the grace)')
    .option('--dry-run', 'report only, remove nothing')
    .option('--host <hostId>', 'this host (repeatable); default every known host', hosts)
    .option('--grace <duration>', 'orphan grace period (default SNAPKEEPER_ORPHAN_GRACE)')
    .option('--json', 'the reports as JSON on stdout')
    .action(async (options) => {
      const { runReconcile } = await import('./commands/reconcile.js');
      setCode(await runReconcile(await runtime(), options));
    });

  program
    .command('drain-host')
    .description(
      "Retire a Docker host: end its snapshots (images removed by the host's worker) or, with --forget, terminate them; then delete its schedule and budget",
    )
    .argument('<hostId>', 'the host to retire', hostId)
    .option('--forget', 'the host is gone for good: terminate its snapshot workflows without removing images')
    .option('--timeout <duration>', 'how long to wait for the images to leave', durationMs, 600_000)
    .option('--json', 'the result as JSON on stdout')
    .action(async (host: string, options) => {
      const { runDrainHost } = await import('./commands/drain-host.js');
      setCode(await runDrainHost(await runtime(), host, { ...options, timeoutMs: options.timeout }));
    });

  program
    .command('doctor')
    .description(
      'Check the configuration, Temporal, the namespace, search attributes, schedules, each host’s Docker worker and engine',
    )
    .option('--host <hostId>', 'check only this host (repeatable)', hosts)
    .option('--no-probe', "do not ask the hosts' workers to reach their engines (a dry-run reconcile)")
    .option('--json', 'the checks as JSON on stdout')
    .action(async (options) => {
      const { runDoctor } = await import('./commands/doctor.js');
      setCode(await runDoctor(await runtime(), options));
    });

  return program;
}

/** Runs the CLI with these arguments (without `node` and the script) and returns the exit code. */
export async function runCli(
  argv: string[],
  streams: { stdout: OutputStream; stderr: OutputStream } = {
    stdout: process.stdout,
    stderr: process.stderr,
  },
): Promise<number> {
  let code: number = ExitCode.ok;
  const holder: { program?: Command } = {};
  let made: Runtime | undefined;
  const runtime: RuntimeSource = async () => {
    if (!made) {
      const { createRuntime } = await import('./runtime.js');
      made = createRuntime(() => (holder.program?.opts() ?? {}) as GlobalOptions, streams);
    }
    return made;
  };
  const program = buildProgram(
    (c) => {
      code = c;
    },
    runtime,
    streams,
  );
  holder.program = program;
  program.exitOverride();
  program.configureOutput({
    writeOut: (s) => void streams.stdout.write(s),
    writeErr: (s) => void streams.stderr.write(s),
  });
  for (const sub of program.commands) {
    sub.exitOverride();
    sub.configureOutput({
      writeOut: (s) => void streams.stdout.write(s),
      writeErr: (s) => void streams.stderr.write(s),
    });
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (err) {
    return await failure(err, streams.stderr);
  } finally {
    await made?.close();
  }
}

async function failure(err: unknown, stderr: OutputStream): Promise<number> {
  if (err instanceof CommanderError) {
    // Help and version are asked for; everything else is a usage error, already printed.
    if (
      err.code === 'commander.helpDisplayed' ||
      err.code === 'commander.help' ||
      err.code === 'commander.version'
    )
      return ExitCode.ok;
    return ExitCode.usage;
  }
  const message = err instanceof Error ? err.message : String(err);
  // Only a command that ran gets here, and it has loaded these modules already.
  const { InvalidListRequest } = await import('../service/visibility.js');
  const { grpcCode } = await import('../service/list-snapshots.js');
  if (err instanceof UsageError || err instanceof InvalidListRequest || err instanceof RangeError) {
    stderr.write(`snapkeeper: ${message}\n`);
    return ExitCode.usage;
  }
  const grpc = grpcCode(err);
  if (err instanceof TemporalUnreachable || grpc === GRPC_UNAVAILABLE || grpc === GRPC_DEADLINE_EXCEEDED) {
    stderr.write(`snapkeeper: ${message}\n`);
    return ExitCode.unreachable;
  }
  stderr.write(`snapkeeper: ${message}\n`);
  return ExitCode.problem;
}
