// The facts figures are meaningless without: the machine, the versions, the code that was measured.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, freemem, loadavg, totalmem } from 'node:os';
import type { Client } from '@temporalio/client';
import type Dockerode from 'dockerode';
import { repoPath } from '../scripts/lib/repo-root.js';

function run(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8', cwd: repoPath() }).trim();
  } catch {
    return 'unknown';
  }
}

function packageVersion(name: string): string {
  try {
    const pkg = JSON.parse(readFileSync(repoPath('node_modules', name, 'package.json'), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export async function machineInfo(client: Client, docker: Dockerode): Promise<Record<string, unknown>> {
  const system = await client.workflowService.getSystemInfo({}).catch(() => undefined);
  const engine = (await docker.version().catch(() => undefined)) as { Version?: string } | undefined;
  const dirty = run('git', ['status', '--porcelain', '--', 'src']) !== '';
  return {
    nproc: run('nproc', []),
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryMiB: { total: Math.round(totalmem() / 2 ** 20), free: Math.round(freemem() / 2 ** 20) },
    freeM: run('free', ['-m']),
    loadAverageAtStart: loadavg().map((l) => Number(l.toFixed(2))),
    node: process.version,
    temporalSdk: packageVersion('@temporalio/client'),
    temporalServer: system?.serverVersion || 'unknown',
    dockerEngine: engine?.Version ?? 'unknown',
    commit: run('git', ['rev-parse', 'HEAD']),
    branch: run('git', ['rev-parse', '--abbrev-ref', 'HEAD']),
    srcModified: dirty,
  };
}
