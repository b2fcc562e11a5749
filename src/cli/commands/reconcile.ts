import { graceBelowFloor, parseDuration } from '../../config/config.js';
import { startReconcile } from '../../service/run-reconcile.js';
import type { ReconcileReport } from '../../contract/reconcile-types.js';
import { ExitCode } from '../exit-codes.js';
import { formatBytes } from '../format.js';
import { withProgress } from '../progress.js';
import type { Runtime } from '../runtime.js';
import { UsageError, writeJson } from '../runtime.js';
import { renderTable } from '../table.js';

export interface ReconcileOptions {
  dryRun?: boolean;
  host?: string[];
  grace?: string;
  json?: boolean;
}

export async function runReconcile(rt: Runtime, options: ReconcileOptions): Promise<number> {
  const config = rt.config();
  let graceMs = config.reconcile.orphanGraceMs;
  if (options.grace !== undefined) {
    try {
      graceMs = parseDuration(options.grace);
    } catch (err) {
      throw new UsageError(`--grace: ${(err as Error).message}`);
    }
  }
  const dryRun = options.dryRun ?? false;
  // A dry run removes nothing: any grace may be asked what it would remove.
  const belowFloor = dryRun ? null : graceBelowFloor(graceMs, config.reconcile.minOrphanGraceMs);
  if (belowFloor) throw new UsageError(`--grace: ${belowFloor}`);
  const { client } = await rt.session();
  const started = await startReconcile(client, {
    ...(options.host?.length ? { hosts: options.host } : {}),
    orphanGraceSeconds: Math.round(graceMs / 1000),
    dryRun,
  });
  const result = await withProgress(
    `reconciling${dryRun ? ' (dry run)' : ''}: ${started.workflowId}`,
    () => started.result(),
    rt.stderr,
  );
  if (options.json) {
    writeJson(rt.stdout, { workflowId: started.workflowId, ...result });
  } else if (result.reports.length === 0) {
    rt.stdout.write('no hosts to reconcile (no reconcile schedule and no open snapshot)\n');
  } else {
    rt.stdout.write(
      renderTable<ReconcileReport>(
        [
          { header: 'HOST', value: (r) => r.host },
          { header: 'MANAGED', value: (r) => String(r.managedImages), right: true },
          { header: 'OWNED', value: (r) => String(r.owned), right: true },
          {
            header: dryRun ? 'WOULD REMOVE' : 'REMOVED',
            value: (r) => `${r.counts.orphansRemoved} (${formatBytes(r.counts.orphanBytesRemoved)})`,
            right: true,
          },
          { header: 'KEPT YOUNG', value: (r) => String(r.counts.orphansKeptYoung), right: true },
          { header: 'BLOCKED', value: (r) => String(r.counts.blocked), right: true },
          { header: 'VANISHED', value: (r) => String(r.counts.vanished), right: true },
          { header: 'UNVERIFIED', value: (r) => String(r.counts.unverified), right: true },
          { header: 'REPAIRED', value: (r) => String(r.counts.repaired ?? 0), right: true },
          { header: 'ERROR', value: (r) => r.error ?? '-' },
        ],
        result.reports,
      ),
    );
    for (const r of result.reports)
      for (const b of r.blocked) rt.stdout.write(`${r.host}: ${b.imageId.slice(0, 19)} kept: ${b.reason}\n`);
    for (const r of result.reports)
      for (const w of r.repaired ?? []) rt.stdout.write(`${r.host}: ${w.workflowId} reset: ${w.reason}\n`);
    rt.stdout.write(`workflow ${started.workflowId}\n`);
  }
  return result.reports.every((r) => r.error === null) ? ExitCode.ok : ExitCode.problem;
}
