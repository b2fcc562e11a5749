import type { Check } from '../doctor-checks.js';
import { runDoctorChecks } from '../doctor-checks.js';
import { ExitCode } from '../exit-codes.js';
import { withProgress } from '../progress.js';
import type { Runtime } from '../runtime.js';
import { writeJson } from '../runtime.js';
import { renderTable } from '../table.js';

export interface DoctorCommandOptions {
  host?: string[];
  probe: boolean;
  json?: boolean;
}

const MARK: Record<Check['status'], string> = { ok: 'ok', warn: 'WARN', fail: 'FAIL' };

export async function runDoctor(rt: Runtime, options: DoctorCommandOptions): Promise<number> {
  const report = await withProgress(
    'checking',
    (progress) =>
      runDoctorChecks({
        env: rt.env(),
        ...(options.host?.length ? { hosts: options.host } : {}),
        probe: options.probe,
        onStep: (text) => progress.update(`checking ${text}`),
      }),
    rt.stderr,
  );
  const failed = report.checks.filter((c) => c.status === 'fail');
  const code = report.unreachable ? ExitCode.unreachable : failed.length > 0 ? ExitCode.problem : ExitCode.ok;
  if (options.json) {
    writeJson(rt.stdout, { ok: code === ExitCode.ok, checks: report.checks });
    return code;
  }
  rt.stdout.write(
    renderTable<Check>(
      [
        { header: 'STATUS', value: (c) => MARK[c.status] },
        { header: 'CHECK', value: (c) => c.name },
        { header: 'DETAIL', value: (c) => c.detail },
      ],
      report.checks,
    ),
  );
  const fixes = report.checks.filter((c) => c.status !== 'ok' && c.fix);
  if (fixes.length > 0) {
    rt.stdout.write('\nto fix:\n');
    for (const c of fixes) rt.stdout.write(`- ${c.name}: ${c.fix}\n`);
  }
  const warned = report.checks.filter((c) => c.status === 'warn').length;
  rt.stdout.write(
    `\n${failed.length === 0 ? 'healthy' : `${failed.length} problem(s)`}${warned ? `, ${warned} warning(s)` : ''}\n`,
  );
  return code;
}
