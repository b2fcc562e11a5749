// The checks of `snapkeeper doctor`: each says what it saw and, when something is wrong, what to do.
// They only read (no search attribute is added, no schedule made); the engine probe is a dry-run
// reconcile, which removes nothing.
import type { Client, Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import type { Config } from '../config/config.js';
import { loadConfig } from '../config/config.js';
import { loadProjectPolicies } from '../config/project-policy.js';
import { buildListQuery } from '../service/list-snapshots.js';
import { startReconcile } from '../service/run-reconcile.js';
import type { Poller } from '../service/task-queue-pollers.js';
import { describePollers, livePollers } from '../service/task-queue-pollers.js';
import { HOST_ID_PATTERN } from '../contract/limits.js';
import {
  WORKFLOW_TASK_QUEUE,
  dockerTaskQueue,
  hostOfReconcileSchedule,
  reconcileScheduleId,
} from '../contract/names.js';
import { SEARCH_ATTRIBUTE_TYPES } from '../contract/search-attributes.js';
import { SEARCH_ATTRIBUTE_KEYS } from '../contract/search-attribute-keys.js';
import { connectTemporal } from './connect.js';
import { formatDuration, formatRelative } from './format.js';

const { IndexedValueType } = proto.temporal.api.enums.v1;

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface Check {
  name: string;
  status: CheckStatus;
  detail: string;
  /** What to do about a warning or failure. */
  fix?: string;
}

export interface DoctorOptions {
  env: NodeJS.ProcessEnv;
  /** Only these hosts; by default every host with a reconcile schedule or an open snapshot. */
  hosts?: string[];
  /** Ask each host's Docker worker to reach its engine (a dry-run reconcile). */
  probe: boolean;
  onStep?: (text: string) => void;
}

export interface DoctorReport {
  checks: Check[];
  /** Temporal could not be reached: the checks after the connection did not run. */
  unreachable: boolean;
}

/** Open snapshots are read to find their hosts; beyond this many, hosts are taken from schedules only. */
const MAX_SCANNED_SNAPSHOTS = 10_000;

export async function runDoctorChecks(options: DoctorOptions): Promise<DoctorReport> {
  const checks: Check[] = [];
  const step = options.onStep ?? (() => undefined);

  step('configuration');
  let config: Config;
  try {
    config = loadConfig(options.env);
    checks.push({
      name: 'configuration',
      status: 'ok',
      detail: `Temporal ${config.temporal.address}, namespace ${config.temporal.namespace}`,
    });
  } catch (err) {
    checks.push({
      name: 'configuration',
      status: 'fail',
      detail: (err as Error).message.replace(/\n\s*/g, '; '),
      fix: 'correct the environment variables named above (see the README settings table)',
    });
    // The Temporal checks can still run with the connection settings alone.
    const connectionOnly = Object.entries(options.env).filter(([key]) => key.startsWith('TEMPORAL_'));
    try {
      config = loadConfig(Object.fromEntries(connectionOnly));
    } catch {
      config = loadConfig({});
    }
  }
  if (config.policyFile) {
    try {
      await loadProjectPolicies(config.policyFile);
      checks.push({ name: 'policy file', status: 'ok', detail: `${config.policyFile} is valid` });
    } catch (err) {
      checks.push({
        name: 'policy file',
        status: 'fail',
        detail: (err as Error).message.replace(/\n\s*/g, '; '),
        fix: 'fix the file named by SNAPKEEPER_CONFIG (docs/operations.md, per-project policy)',
      });
    }
  }

  step('Temporal connection');
  const { address, namespace } = config.temporal;
  let session;
  try {
    session = await connectTemporal(config);
    const info = await session.connection.workflowService.getSystemInfo({});
    checks.push({
      name: 'temporal',
      status: 'ok',
      detail: `${address} answers (server ${info.serverVersion || 'version unknown'})`,
    });
  } catch (err) {
    checks.push({
      name: 'temporal',
      status: 'fail',
      detail: (err as Error).message,
      fix: `start Temporal, or point TEMPORAL_ADDRESS (or --address) at its frontend`,
    });
    await session?.close();
    return { checks, unreachable: true };
  }
  try {
    const { connection, client } = session;
    if (!(await checkNamespace(connection, namespace, checks))) return { checks, unreachable: false };
    step('search attributes');
    await checkSearchAttributes(connection, namespace, checks);
    step('workflow worker');
    const workflowWorker = await checkWorkflowWorker(client, checks);
    step('schedules and hosts');
    const hosts = await checkSchedules(client, options.hosts, checks);
    const withWorker: string[] = [];
    for (const host of hosts) {
      step(`Docker worker of ${host}`);
      if (await checkDockerWorker(client, host, checks)) withWorker.push(host);
    }
    if (options.probe && withWorker.length > 0) {
      if (!workflowWorker) {
        checks.push({
          name: 'engines',
          status: 'warn',
          detail: 'not probed: the probe is a reconcile run, which needs a workflow worker',
          fix: 'start a workflow worker, then run doctor again',
        });
      } else {
        step(`engines of ${withWorker.join(', ')}`);
        await probeEngines(client, withWorker, checks);
      }
    }
  } finally {
    await session.close();
  }
  return { checks, unreachable: false };
}

async function checkNamespace(connection: Connection, namespace: string, checks: Check[]): Promise<boolean> {
  try {
    const ns = await connection.workflowService.describeNamespace({ namespace });
    const retention = ns.config?.workflowExecutionRetentionTtl?.seconds;
    const seconds = retention ? Number(retention) : undefined;
    checks.push({
      name: 'namespace',
      status: 'ok',
      detail: `${namespace}${seconds ? `, retention ${formatDuration(seconds * 1000)}` : ''}`,
    });
    return true;
  } catch (err) {
    checks.push({
      name: 'namespace',
      status: 'fail',
      detail: `${namespace}: ${(err as Error).message}`,
      fix: `create it (temporal operator namespace create --namespace ${namespace}) or set TEMPORAL_NAMESPACE`,
    });
    return false;
  }
}

async function checkSearchAttributes(
  connection: Connection,
  namespace: string,
  checks: Check[],
): Promise<void> {
  const listed = await connection.operatorService.listSearchAttributes({ namespace });
  const custom = listed.customAttributes ?? {};
  const missing: string[] = [];
  const wrong: string[] = [];
  for (const [name, type] of Object.entries(SEARCH_ATTRIBUTE_TYPES)) {
    const actual = custom[name];
    if (actual === undefined || actual === null) missing.push(name);
    else if (IndexedValueType[actual] !== `INDEXED_VALUE_TYPE_${type.toUpperCase()}`)
      wrong.push(`${name} is ${IndexedValueType[actual]}, expected ${type}`);
  }
  if (wrong.length > 0) {
    checks.push({
      name: 'search attributes',
      status: 'fail',
      detail: wrong.join('; '),
      fix: 'a search attribute cannot change type: use a fresh namespace, or remove and re-create it (workflows upserting it fail meanwhile)',
    });
  } else if (missing.length > 0) {
    checks.push({
      name: 'search attributes',
      status: 'fail',
      detail: `missing in ${namespace}: ${missing.join(', ')}`,
      fix: `start a snapkeeper worker or the API (they add them), or: ${missing
        .map(
          (m) => `temporal operator search-attribute create --name ${m} --type ${SEARCH_ATTRIBUTE_TYPES[m]}`,
        )
        .join('; ')}`,
    });
  } else {
    checks.push({
      name: 'search attributes',
      status: 'ok',
      detail: `all ${Object.keys(SEARCH_ATTRIBUTE_TYPES).length} present with the right types`,
    });
  }
}

function describeLive(pollers: Poller[]): string {
  const ids = [...new Set(pollers.map((p) => p.identity))];
  return `${ids.length} worker(s): ${ids.slice(0, 3).join(', ')}${ids.length > 3 ? ', …' : ''}`;
}

async function checkWorkflowWorker(client: Client, checks: Check[]): Promise<boolean> {
  const live = livePollers(await describePollers(client, WORKFLOW_TASK_QUEUE, 'workflow'));
  if (live.length > 0) {
    checks.push({
      name: `workflow worker`,
      status: 'ok',
      detail: `${WORKFLOW_TASK_QUEUE}: ${describeLive(live)}`,
    });
    return true;
  }
  checks.push({
    name: 'workflow worker',
    status: 'fail',
    detail: `no worker polls task queue ${WORKFLOW_TASK_QUEUE}: snapshot workflows make no progress`,
    fix: 'start a worker with SNAPKEEPER_WORKER_ROLES including workflow (npm run worker)',
  });
  return false;
}

/** Checks each host's reconcile schedule and returns the hosts to look at. */
async function checkSchedules(
  client: Client,
  only: string[] | undefined,
  checks: Check[],
): Promise<string[]> {
  const schedules = new Map<string, { paused: boolean; note?: string; next?: Date; lastRun?: Date }>();
  for await (const s of client.schedule.list()) {
    const host = hostOfReconcileSchedule(s.scheduleId);
    if (!host) continue;
    schedules.set(host, {
      paused: s.state.paused,
      ...(s.state.note ? { note: s.state.note } : {}),
      ...(s.info.nextActionTimes[0] ? { next: s.info.nextActionTimes[0] } : {}),
      ...(s.info.recentActions.at(-1) ? { lastRun: s.info.recentActions.at(-1)?.takenAt } : {}),
    });
  }
  const withSnapshots = new Set<string>();
  let hosts: string[];
  if (only && only.length > 0) {
    hosts = only;
  } else {
    let scanned = 0;
    for await (const wf of client.workflow.list({ query: buildListQuery({}) })) {
      const host = wf.typedSearchAttributes.get(SEARCH_ATTRIBUTE_KEYS.host);
      if (typeof host === 'string' && HOST_ID_PATTERN.test(host)) withSnapshots.add(host);
      if (++scanned >= MAX_SCANNED_SNAPSHOTS) break;
    }
    hosts = [...new Set([...schedules.keys(), ...withSnapshots])].sort();
    if (hosts.length === 0) {
      checks.push({
        name: 'hosts',
        status: 'warn',
        detail: 'no reconcile schedule and no open snapshot: no Docker worker has ever started here',
        fix: 'start a Docker worker on each Docker host (SNAPKEEPER_HOST_ID, DOCKER_HOST)',
      });
    }
  }
  for (const host of hosts) {
    const s = schedules.get(host);
    const name = `schedule ${reconcileScheduleId(host)}`;
    if (!s) {
      checks.push({
        name,
        status: 'fail',
        detail: `host ${host} has no reconcile schedule: its orphans are never removed`,
        fix: `start the Docker worker of ${host} (it creates the schedule), or drain the host if it is gone: snapkeeper drain-host ${host} --forget`,
      });
    } else if (s.paused) {
      checks.push({
        name,
        status: 'warn',
        detail: `paused${s.note ? ` (${s.note})` : ''}`,
        fix: `temporal schedule toggle --schedule-id ${reconcileScheduleId(host)} --unpause --reason 'back in service'`,
      });
    } else {
      checks.push({
        name,
        status: 'ok',
        detail: `last run ${s.lastRun ? formatRelative(s.lastRun.toISOString()) : 'never'}, next ${s.next ? formatRelative(s.next.toISOString()) : 'unknown'}`,
      });
    }
  }
  return hosts;
}

async function checkDockerWorker(client: Client, host: string, checks: Check[]): Promise<boolean> {
  const queue = dockerTaskQueue(host);
  const pollers = await describePollers(client, queue, 'activity');
  const live = livePollers(pollers);
  if (live.length > 0) {
    checks.push({ name: `docker worker ${host}`, status: 'ok', detail: `${queue}: ${describeLive(live)}` });
    return true;
  }
  const lastSeen = pollers
    .map((p) => p.lastAccessTime)
    .filter((t): t is string => t !== null)
    .sort()
    .at(-1);
  checks.push({
    name: `docker worker ${host}`,
    status: 'fail',
    detail: `no worker polls ${queue}${lastSeen ? ` (last seen ${formatRelative(lastSeen)})` : ''}: registrations on ${host} fail and its removals wait`,
    fix: `start a worker on ${host} with SNAPKEEPER_HOST_ID=${host}, DOCKER_HOST set to its engine and SNAPKEEPER_WORKER_ROLES including docker; or, if the host is gone for good, snapkeeper drain-host ${host} --forget`,
  });
  return false;
}

async function probeEngines(client: Client, hosts: string[], checks: Check[]): Promise<void> {
  try {
    const started = await startReconcile(client, {
      hosts,
      orphanGraceSeconds: 365 * 24 * 3600,
      dryRun: true,
      hostTimeoutSeconds: 15,
    });
    const { reports } = await started.result();
    for (const r of reports) {
      checks.push(
        r.error
          ? {
              name: `engine ${r.host}`,
              status: 'fail',
              detail: r.error,
              fix: `check that dockerd runs on ${r.host} and that DOCKER_HOST of its worker points at it`,
            }
          : {
              name: `engine ${r.host}`,
              status: 'ok',
              detail: `answers: ${r.managedImages} managed image(s), ${r.owned} owned by open snapshots`,
            },
      );
    }
  } catch (err) {
    checks.push({
      name: 'engines',
      status: 'fail',
      detail: `the probe (a dry-run reconcile) failed: ${(err as Error).message}`,
      fix: 'check the workflow worker logs',
    });
  }
}
