// The arguments of `show` and `ls` as the CLI's fast path reads them (fast-main.ts, before commander
// is loaded). It accepts only what commander reads the same way (program.ts) and declines the rest:
// help, --version, --address, unknown options, bad values, extra arguments. Commander then parses
// those and prints its own errors, so the fast path never changes what an operator sees
// (test/unit/cli-fast-path.test.ts runs both parsers on the same argument lists).
import { HOST_ID_PATTERN, ID_PATTERN } from '../contract/limits.js';
import type { SnapshotStatus } from '../contract/snapshot-types.js';
import { SNAPSHOT_STATUSES } from '../contract/snapshot-types.js';
import { positiveIntOf } from './arg-values.js';

export interface FastShow {
  command: 'show';
  namespace?: string;
  projectId: string;
  workItemId: string;
  json?: boolean;
}

export interface FastLs {
  command: 'ls';
  namespace?: string;
  project?: string;
  state?: SnapshotStatus;
  host?: string;
  limit: number;
  json?: boolean;
}

export type FastCommand = FastShow | FastLs;

/** Options with a value, per command; `--namespace` is the program's, which commander takes anywhere. */
const VALUED: Record<FastCommand['command'], readonly string[]> = {
  show: ['namespace'],
  ls: ['namespace', 'project', 'state', 'host', 'limit'],
};
const DEFAULT_LIMIT = 1000;

interface Tokens {
  values: Map<string, string>;
  json: boolean;
  positionals: string[];
}

/** Splits the tokens after the command; undefined for anything outside the simple shapes. */
function tokens(args: readonly string[], valued: readonly string[]): Tokens | undefined {
  const values = new Map<string, string>();
  const positionals: string[] = [];
  let json = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (!arg.startsWith('-')) {
      positionals.push(arg);
      continue;
    }
    // Short options, `--` and `-` are commander's to read.
    if (!arg.startsWith('--') || arg === '--') return undefined;
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    if (name === 'json' && eq < 0) {
      json = true;
      continue;
    }
    if (!valued.includes(name)) return undefined;
    const value = eq < 0 ? args[++i] : arg.slice(eq + 1);
    // A missing or empty value, or one that looks like an option: commander's to read.
    if (!value || value.startsWith('-')) return undefined;
    // Commander keeps the last of a repeated option.
    values.set(name, value);
  }
  return { values, json, positionals };
}

/** `show`/`ls` with their options, as commander would read them; undefined when commander must read them. */
export function parseFastArgs(argv: readonly string[]): FastCommand | undefined {
  // Only `--namespace` may come before the command (commander's program options).
  let at = 0;
  const before = new Map<string, string>();
  while (argv[at]?.startsWith('--namespace')) {
    const arg = argv[at] as string;
    if (arg === '--namespace') {
      const value = argv[at + 1];
      if (!value || value.startsWith('-')) return undefined;
      before.set('namespace', value);
      at += 2;
    } else if (arg.startsWith('--namespace=') && arg.length > '--namespace='.length) {
      before.set('namespace', arg.slice('--namespace='.length));
      at += 1;
    } else return undefined;
  }
  const command = argv[at];
  if (command !== 'show' && command !== 'ls') return undefined;
  const t = tokens(argv.slice(at + 1), VALUED[command]);
  if (!t) return undefined;
  const namespace = t.values.get('namespace') ?? before.get('namespace');
  const common = {
    ...(namespace !== undefined ? { namespace } : {}),
    ...(t.json ? { json: true } : {}),
  };
  if (command === 'show') {
    const [projectId, workItemId, ...extra] = t.positionals;
    if (projectId === undefined || workItemId === undefined || extra.length > 0) return undefined;
    if (!ID_PATTERN.test(projectId) || !ID_PATTERN.test(workItemId)) return undefined;
    return { command, projectId, workItemId, ...common };
  }
  if (t.positionals.length > 0) return undefined;
  const project = t.values.get('project');
  const host = t.values.get('host');
  const state = t.values.get('state');
  const limitText = t.values.get('limit');
  const limit = limitText === undefined ? DEFAULT_LIMIT : positiveIntOf(limitText);
  if (project !== undefined && !ID_PATTERN.test(project)) return undefined;
  if (host !== undefined && !HOST_ID_PATTERN.test(host)) return undefined;
  if (state !== undefined && !(SNAPSHOT_STATUSES as readonly string[]).includes(state)) return undefined;
  if (limit === undefined) return undefined;
  return {
    command,
    ...(project !== undefined ? { project } : {}),
    ...(state !== undefined ? { state: state as SnapshotStatus } : {}),
    ...(host !== undefined ? { host } : {}),
    limit,
    ...common,
  };
}
