import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { ClientConfigProfile, ClientConfigTLS } from '@temporalio/envconfig';
import { loadClientConfigProfile } from '@temporalio/envconfig';
import { z } from 'zod';
import {
  DEFAULT_MAX_LAYER_DEPTH,
  DEFAULT_TTL_SECONDS,
  HOST_ID_PATTERN,
  MAX_LAYER_DEPTH_LIMIT,
  MAX_TTL_SECONDS,
} from '../contract/limits.js';

import { parseDuration } from './duration.js';

export { parseDuration };

const duration = z.string().transform((v, ctx) => {
  try {
    return parseDuration(v);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});

/**
 * The later looks of a merge for linked snapshots, after its first: visibility trails the
 * workflows, so a link made just before the merge may show only later. Whatever their delays, the
 * looks are one activity (issue 19), so shorter ones cost nothing more; an hour bounds the wait of
 * that activity, and a handful keeps a retried attempt's burst of looks small.
 */
const lookDelays = z.string().transform((v, ctx) => {
  const parts = v.split(',').map((p) => p.trim());
  if (parts.length > 5) {
    ctx.addIssue({ code: 'custom', message: 'at most 5 looks, e.g. 10s,60s' });
    return z.NEVER;
  }
  const seconds: number[] = [];
  for (const part of parts) {
    try {
      const ms = parseDuration(part);
      if (ms < 1000 || ms > 3_600_000) throw new Error(`${part}: each look from 1s to 1h after the first`);
      seconds.push(Math.round(ms / 1000));
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return z.NEVER;
    }
  }
  return seconds;
});

// Secrets are resolved, trimmed and checked by resolveSecrets before the schema sees them.
const optionalSecret = z
  .string()
  .optional()
  .transform((v) => (v && v.length > 0 ? v : undefined));

interface SecretRule {
  name: string;
  /** Placeholders such as `changeme` or `secret` are shorter; real ones are long random strings. */
  minLength: number;
  allowed: RegExp;
  /** Why a character is refused: what the secret could not do with it. */
  allowedText: string;
}

/**
 * The secrets, each also readable from a file named by `<name>_FILE` (a mounted secret). A file, or
 * a value pasted from one, often ends in a newline: surrounding whitespace is trimmed, and a value
 * that still could not work stops the process here, naming the variable, instead of refusing every
 * request later with a bare 401.
 */
const SECRET_RULES: readonly SecretRule[] = [
  {
    name: 'SNAPKEEPER_API_TOKEN',
    minLength: 12,
    // A client sends it in `Authorization: Bearer <token>`: a header holds no line break, and a
    // token with a space or a non-ASCII character could never be presented as it is configured.
    allowed: /^[\x21-\x7e]+$/,
    allowedText: 'printable ASCII without whitespace (clients send it in an Authorization header)',
  },
  {
    name: 'GITHUB_WEBHOOK_SECRET',
    minLength: 12,
    // GitHub's secret field is one line; a tab or line break inside is a file read wrong.
    allowed: /^[^\p{Cc}]+$/u,
    allowedText: "one line without control characters (GitHub's secret field holds one line)",
  },
  {
    name: 'TEMPORAL_API_KEY',
    minLength: 1,
    allowed: /^[\x21-\x7e]+$/,
    allowedText: 'printable ASCII without whitespace (it is sent as gRPC metadata)',
  },
];

/** The `*_FILE` variables: each names a file holding the secret of the same name without `_FILE`. */
export const SECRET_FILE_VARIABLES: readonly string[] = SECRET_RULES.map((r) => `${r.name}_FILE`);

/**
 * The environment with every secret taken from its variable or its `_FILE`, trimmed, and checked.
 * An empty variable stays unset, as before; a file or a value with nothing but whitespace is an error.
 */
export function resolveSecrets(
  env: NodeJS.ProcessEnv,
  readFile: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...env };
  const problems: string[] = [];
  for (const rule of SECRET_RULES) {
    const fileVar = `${rule.name}_FILE`;
    const direct = env[rule.name];
    const path = env[fileVar];
    let raw: string | undefined = direct;
    let source = rule.name;
    if (path !== undefined && path !== '') {
      if (direct !== undefined && direct !== '') {
        problems.push(`${rule.name}: set both ${rule.name} and ${fileVar}; set one of them`);
        continue;
      }
      try {
        raw = readFile(path);
      } catch (err) {
        problems.push(`${fileVar}: cannot read ${path}: ${(err as Error).message}`);
        continue;
      }
      source = `${fileVar} (${path})`;
    }
    delete out[fileVar];
    if (raw === undefined || (raw === '' && source === rule.name)) {
      delete out[rule.name];
      continue;
    }
    const value = raw.trim();
    if (value === '') {
      problems.push(`${rule.name}: ${source} holds only whitespace; set the secret or leave it unset`);
    } else if (!rule.allowed.test(value)) {
      problems.push(`${rule.name}: ${source} must be ${rule.allowedText}`);
    } else if (value.length < rule.minLength) {
      problems.push(
        `${rule.name}: ${source} is ${value.length} characters; use at least ${rule.minLength} (a long random string, e.g. openssl rand -hex 32)`,
      );
    } else {
      out[rule.name] = value;
    }
  }
  if (problems.length > 0) {
    throw new Error(`invalid snapkeeper configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  }
  return out;
}

const intFromEnv = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const optionalText = z.string().min(1).optional();
const optionalBool = z.enum(['true', 'false', '1', '0']).optional();

const schema = z.object({
  // Temporal's environment configuration (the names every Temporal SDK and CLI read); they are
  // resolved together with the profile file by @temporalio/envconfig, these entries validate them.
  TEMPORAL_ADDRESS: optionalText,
  TEMPORAL_NAMESPACE: optionalText,
  TEMPORAL_API_KEY: optionalSecret,
  TEMPORAL_TLS: optionalBool,
  TEMPORAL_TLS_CLIENT_CERT_PATH: optionalText,
  TEMPORAL_TLS_CLIENT_KEY_PATH: optionalText,
  TEMPORAL_TLS_SERVER_CA_CERT_PATH: optionalText,
  TEMPORAL_TLS_SERVER_NAME: optionalText,
  TEMPORAL_PROFILE: optionalText,
  TEMPORAL_CONFIG_FILE: optionalText,
  DOCKER_HOST: z.string().optional(),
  SNAPKEEPER_HOST_ID: z
    .string()
    .regex(HOST_ID_PATTERN, 'host id: letters, digits, ".", "_", "-", at most 63 characters')
    .default(hostname()),
  SNAPKEEPER_PORT: intFromEnv(0, 65535).default(8080),
  SNAPKEEPER_LISTEN_HOST: z.string().default('127.0.0.1'),
  SNAPKEEPER_API_TOKEN: optionalSecret,
  GITHUB_WEBHOOK_SECRET: optionalSecret,
  SNAPKEEPER_DEFAULT_TTL: z.string().default(`${DEFAULT_TTL_SECONDS}s`).pipe(duration),
  SNAPKEEPER_WORKER_ROLES: z
    .string()
    .default('workflow,docker')
    .transform((v) => v.split(',').map((s) => s.trim()))
    .pipe(z.array(z.enum(['workflow', 'docker'])).min(1)),
  SNAPKEEPER_CONFIG: z.string().optional(),
  SNAPKEEPER_ON_CLOSE_WITHOUT_MERGE: z.enum(['ignore', 'invalidate']).default('ignore'),
  SNAPKEEPER_RECONCILE_INTERVAL: z.string().default('5m').pipe(duration),
  SNAPKEEPER_ORPHAN_GRACE: z.string().default('10m').pipe(duration),
  SNAPKEEPER_MAX_SNAPSHOTS: z.coerce.number().int().min(1).optional(),
  SNAPKEEPER_MAX_BYTES: z.coerce.number().int().min(1).optional(),
  SNAPKEEPER_DISK_HIGH_PERCENT: z.coerce.number().min(1).max(100).default(85),
  SNAPKEEPER_DISK_LOW_PERCENT: z.coerce.number().min(0).max(100).default(80),
  SNAPKEEPER_DISK_PATH: z.string().optional(),
  SNAPKEEPER_LOOKUP_RECORD_INTERVAL: z.string().default('1m').pipe(duration),
  SNAPKEEPER_MERGE_LOOKS: z.string().default('10s,60s').pipe(lookDelays),
  SNAPKEEPER_MAX_CACHED_WORKFLOWS: intFromEnv(0, 1_000_000).default(1000),
  SNAPKEEPER_STICKY_QUEUE_TIMEOUT: z.string().default('10s').pipe(duration),
  SNAPKEEPER_MAX_LAYER_DEPTH: intFromEnv(2, MAX_LAYER_DEPTH_LIMIT).default(DEFAULT_MAX_LAYER_DEPTH),
  SNAPKEEPER_WORKER_METRICS_PORT: intFromEnv(0, 65535).default(9464),
  SNAPKEEPER_WORKER_METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  SNAPKEEPER_LOG_LEVEL: z
    .enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'])
    .default('info'),
});

/** Every environment variable snapkeeper reads (the README documents each one). */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(schema.shape);

/**
 * The least orphan grace accepted by default. The grace is what keeps a commit alive until its
 * registration arrives (a client commits, then registers: under a second normally, seconds under
 * load); `0s` or `1s` typed by mistake reaps commits before they are registered, and every such
 * registration then fails. 30 s is many times that round trip and what the chaos runs (worker,
 * engine and server kills) have used without a violation.
 */
export const DEFAULT_MIN_ORPHAN_GRACE_MS = 30_000;
/** Lowers the floor (tests that reap orphans within seconds); read outside the schema below. */
export const MIN_ORPHAN_GRACE_VARIABLE = 'SNAPKEEPER_MIN_ORPHAN_GRACE';
/** Variables documented in docs/operations.md rather than the README's settings table. */
export const OPERATIONS_DOC_VARIABLES: readonly string[] = [
  ...SECRET_FILE_VARIABLES,
  MIN_ORPHAN_GRACE_VARIABLE,
];

/** Why a grace is refused, or null when it is at or above the floor. */
export function graceBelowFloor(graceMs: number, floorMs: number): string | null {
  if (graceMs >= floorMs) return null;
  return (
    `${graceMs / 1000}s is below the floor of ${floorMs / 1000}s: an orphan younger than the grace may be ` +
    `a commit whose registration is still on its way (${MIN_ORPHAN_GRACE_VARIABLE} lowers the floor)`
  );
}

export const DEFAULT_TEMPORAL_ADDRESS = 'localhost:7233';
export const DEFAULT_TEMPORAL_NAMESPACE = 'default';

/** Where and how to reach Temporal: the resolved profile of Temporal's environment configuration. */
export interface TemporalConnectionConfig {
  address: string;
  namespace: string;
  apiKey: string | undefined;
  /** undefined: plain text, unless an API key turns TLS on. */
  tls: ClientConfigTLS | undefined;
  /** gRPC headers sent with every call (TEMPORAL_GRPC_META_*, `grpc_meta` in the profile). */
  grpcMeta: Record<string, string>;
}

export interface Config {
  temporal: TemporalConnectionConfig;
  docker: { host: string | undefined };
  hostId: string;
  api: { port: number; listenHost: string; token: string | undefined };
  github: { webhookSecret: string | undefined };
  defaultTtlSeconds: number;
  /** Snapshots with this many layers or more are not offered by lookups (Docker stops at 125). */
  maxLayerDepth: number;
  /** A lookup records its use in the workflow at most once per this interval (0: every lookup). */
  lookupRecordIntervalMs: number;
  /** A merge's later looks for linked snapshots, in seconds after its first (SNAPKEEPER_MERGE_LOOKS). */
  mergeLookDelaysSeconds: number[];
  workerRoles: Array<'workflow' | 'docker'>;
  /**
   * The workflow worker's cache: at most this many workflows stay in memory between their tasks
   * (its memory grows with this, not with the open workflows); a sticky task not picked up within
   * the timeout goes to any worker, which replays the history.
   */
  workflowCache: { maxCachedWorkflows: number; stickyQueueTimeoutMs: number };
  logLevel: string;
  /** Path of the per-project policy file (JSON or YAML), if any. */
  policyFile: string | undefined;
  onCloseWithoutMerge: 'ignore' | 'invalidate';
  /** `minOrphanGraceMs`: the floor of the grace, in this variable and in `--grace` (see above). */
  reconcile: { intervalMs: number; orphanGraceMs: number; minOrphanGraceMs: number };
  budget: {
    maxSnapshots: number | undefined;
    maxBytes: number | undefined;
    diskHighPercent: number;
    diskLowPercent: number;
    /** Where the engine's data root is mounted in this process, if not at the engine's own path. */
    diskPath: string | undefined;
  };
  /** The worker's Prometheus endpoint (reconcile and budget metrics); port 0 turns it off. */
  workerMetrics: { port: number; host: string };
}

/** Builds the one validated configuration object from the environment; throws a readable error. */
export function loadConfig(rawEnv: NodeJS.ProcessEnv = process.env): Config {
  const env = resolveSecrets(rawEnv);
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid snapkeeper configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  const ttlSeconds = Math.round(e.SNAPKEEPER_DEFAULT_TTL / 1000);
  if (ttlSeconds < 1 || ttlSeconds > MAX_TTL_SECONDS) {
    throw new Error(
      `invalid snapkeeper configuration:\n  SNAPKEEPER_DEFAULT_TTL: must be from 1s to ${MAX_TTL_SECONDS}s`,
    );
  }
  const minGrace = env[MIN_ORPHAN_GRACE_VARIABLE];
  let minOrphanGraceMs = DEFAULT_MIN_ORPHAN_GRACE_MS;
  if (minGrace !== undefined && minGrace !== '') {
    try {
      minOrphanGraceMs = parseDuration(minGrace);
    } catch (err) {
      throw new Error(
        `invalid snapkeeper configuration:\n  ${MIN_ORPHAN_GRACE_VARIABLE}: ${(err as Error).message}`,
      );
    }
    if (minOrphanGraceMs < 1000) {
      throw new Error(
        `invalid snapkeeper configuration:\n  ${MIN_ORPHAN_GRACE_VARIABLE}: must be at least 1s`,
      );
    }
  }
  const graceProblem = graceBelowFloor(e.SNAPKEEPER_ORPHAN_GRACE, minOrphanGraceMs);
  if (graceProblem) {
    throw new Error(`invalid snapkeeper configuration:\n  SNAPKEEPER_ORPHAN_GRACE: ${graceProblem}`);
  }
  if (e.SNAPKEEPER_DISK_LOW_PERCENT >= e.SNAPKEEPER_DISK_HIGH_PERCENT) {
    throw new Error(
      'invalid snapkeeper configuration:\n  SNAPKEEPER_DISK_LOW_PERCENT: must be below SNAPKEEPER_DISK_HIGH_PERCENT',
    );
  }
  return {
    temporal: loadTemporalConnection(env),
    docker: { host: e.DOCKER_HOST },
    hostId: e.SNAPKEEPER_HOST_ID,
    api: { port: e.SNAPKEEPER_PORT, listenHost: e.SNAPKEEPER_LISTEN_HOST, token: e.SNAPKEEPER_API_TOKEN },
    github: { webhookSecret: e.GITHUB_WEBHOOK_SECRET },
    defaultTtlSeconds: ttlSeconds,
    maxLayerDepth: e.SNAPKEEPER_MAX_LAYER_DEPTH,
    lookupRecordIntervalMs: e.SNAPKEEPER_LOOKUP_RECORD_INTERVAL,
    mergeLookDelaysSeconds: e.SNAPKEEPER_MERGE_LOOKS,
    workerRoles: e.SNAPKEEPER_WORKER_ROLES,
    workflowCache: {
      maxCachedWorkflows: e.SNAPKEEPER_MAX_CACHED_WORKFLOWS,
      stickyQueueTimeoutMs: e.SNAPKEEPER_STICKY_QUEUE_TIMEOUT,
    },
    logLevel: e.SNAPKEEPER_LOG_LEVEL,
    policyFile: e.SNAPKEEPER_CONFIG,
    onCloseWithoutMerge: e.SNAPKEEPER_ON_CLOSE_WITHOUT_MERGE,
    reconcile: {
      intervalMs: e.SNAPKEEPER_RECONCILE_INTERVAL,
      orphanGraceMs: e.SNAPKEEPER_ORPHAN_GRACE,
      minOrphanGraceMs,
    },
    budget: {
      maxSnapshots: e.SNAPKEEPER_MAX_SNAPSHOTS,
      maxBytes: e.SNAPKEEPER_MAX_BYTES,
      diskHighPercent: e.SNAPKEEPER_DISK_HIGH_PERCENT,
      diskLowPercent: e.SNAPKEEPER_DISK_LOW_PERCENT,
      diskPath: e.SNAPKEEPER_DISK_PATH || undefined,
    },
    workerMetrics: {
      port: e.SNAPKEEPER_WORKER_METRICS_PORT,
      host: e.SNAPKEEPER_WORKER_METRICS_HOST,
    },
  };
}

/**
 * Temporal's own precedence: the profile (TEMPORAL_PROFILE, default "default") of the TOML file
 * (TEMPORAL_CONFIG_FILE, default ~/.config/temporalio/temporal.toml), overridden by TEMPORAL_*
 * variables. Missing files are checked here so a typo stops the process with the variable's name
 * instead of failing the first connection.
 */
function loadTemporalConnection(env: NodeJS.ProcessEnv): TemporalConnectionConfig {
  const vars = Object.fromEntries(
    Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
  const fail = (variable: string, message: string): never => {
    throw new Error(`invalid snapkeeper configuration:\n  ${variable}: ${message}`);
  };
  const configFile = vars.TEMPORAL_CONFIG_FILE;
  if (configFile && !existsSync(configFile)) fail('TEMPORAL_CONFIG_FILE', `${configFile} does not exist`);
  let profile: ClientConfigProfile;
  try {
    profile = loadClientConfigProfile({ overrideEnvVars: vars });
  } catch (err) {
    fail(vars.TEMPORAL_PROFILE ? 'TEMPORAL_PROFILE' : 'TEMPORAL_CONFIG_FILE', (err as Error).message);
    throw err;
  }
  const tls = profile.tls;
  if (tls && !tls.disabled) {
    const files: Array<[string, ClientConfigTLS['clientCert']]> = [
      ['TEMPORAL_TLS_CLIENT_CERT_PATH', tls.clientCert],
      ['TEMPORAL_TLS_CLIENT_KEY_PATH', tls.clientKey],
      ['TEMPORAL_TLS_SERVER_CA_CERT_PATH', tls.serverCACert],
    ];
    for (const [variable, source] of files) {
      if (source && 'path' in source && !existsSync(source.path))
        fail(variable, `${source.path} does not exist`);
    }
    if (Boolean(tls.clientCert) !== Boolean(tls.clientKey)) {
      fail(
        tls.clientCert ? 'TEMPORAL_TLS_CLIENT_KEY_PATH' : 'TEMPORAL_TLS_CLIENT_CERT_PATH',
        'a client certificate and its key go together; set both or neither',
      );
    }
  }
  return {
    address: profile.address ?? DEFAULT_TEMPORAL_ADDRESS,
    namespace: profile.namespace ?? DEFAULT_TEMPORAL_NAMESPACE,
    apiKey: profile.apiKey?.trim() || undefined,
    tls,
    grpcMeta: profile.grpcMeta ?? {},
  };
}
