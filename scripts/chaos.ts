// `npm run test:chaos [-- --size reduced|full --seed N --temporal dev|cluster]`: drives the real
// system (API, workers, a Temporal server, two private Docker engines) through many snapshot lifecycles while it kills
// and restarts every part, breaks the network between the parts and fills a host's disk, then
// audits that no image leaked and nothing unmanaged was removed.
// The seed replays the same plan; exit status 1 on any violation, 2 on a usage error.
import { parseArgs } from 'node:util';
import type { ChaosReport, ChaosSize } from '../test/chaos/run-chaos.js';
import { runChaos } from '../test/chaos/run-chaos.js';
import { randomSeed } from '../test/chaos/prng.js';

const USAGE =
  'usage: npm run test:chaos -- [--size reduced|full] [--temporal dev|cluster] [--seed N] [--lifecycles N] [--report FILE] [--keep] [--no-network-faults] [--no-full-disk]';

function print(report: ChaosReport): void {
  const out = (line: string) => process.stdout.write(`${line}\n`);
  out(
    `chaos ${report.size} on Temporal ${report.temporal}, seed ${report.seed}: ${report.durationSeconds} s`,
  );
  out(
    `  lifecycles   ${report.lifecycles.total} (${report.lifecycles.failed} failed) ${JSON.stringify(report.lifecycles.byKind)}`,
  );
  out(
    `  registrations ${report.registrations.tried} tried, ${report.registrations.acknowledged} acknowledged; last answers ${JSON.stringify(report.registrations.answers)}`,
  );
  out(`  disruptions  ${JSON.stringify(report.disruptions)}`);
  out(`  network      ${JSON.stringify(report.networkByLink)}`);
  for (const [name, c] of Object.entries(report.processes))
    out(`  process      ${name}: ${JSON.stringify(c)}`);
  out(`  http         ${JSON.stringify(report.http)}`);
  out(
    `  webhooks     ${JSON.stringify(report.webhooks)}, containers from snapshots ${report.holdersStarted}`,
  );
  out(`  timings      ${JSON.stringify(report.timings)}`);
  out(`  audit        ${JSON.stringify(report.audit)}`);
  if (report.anomalies.length > 0) {
    out(`  anomalies    ${report.anomalies.length} (first 15):`);
    for (const a of report.anomalies.slice(0, 15)) out(`    ${a}`);
  }
  out(`  violations   ${report.violations.length}`);
  for (const v of report.violations.slice(0, 30)) out(`    ${v}`);
  out(
    `replay: npm run test:chaos -- --size ${report.size} --temporal ${report.temporal} --seed ${report.seed}`,
  );
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      size: { type: 'string', default: 'reduced' },
      temporal: { type: 'string', default: 'dev' },
      seed: { type: 'string' },
      lifecycles: { type: 'string' },
      report: { type: 'string' },
      keep: { type: 'boolean', default: false },
      'no-network-faults': { type: 'boolean', default: false },
      'no-full-disk': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (values.size !== 'reduced' && values.size !== 'full') throw new Error(`--size must be reduced or full`);
  if (values.temporal !== 'dev' && values.temporal !== 'cluster')
    throw new Error(`--temporal must be dev or cluster`);
  const seed = values.seed === undefined ? randomSeed() : Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`--seed must be a non-negative integer`);
  const lifecycles = values.lifecycles === undefined ? undefined : Number(values.lifecycles);
  if (lifecycles !== undefined && (!Number.isInteger(lifecycles) || lifecycles < 1))
    throw new Error('--lifecycles must be a positive integer');
  const report = await runChaos({
    size: values.size as ChaosSize,
    seed,
    temporal: values.temporal,
    ...(lifecycles ? { lifecycles } : {}),
    ...(values.report ? { reportFile: values.report } : {}),
    keepWorkDir: values.keep ?? false,
    noNetworkFaults: values['no-network-faults'] ?? false,
    noFullDisk: values['no-full-disk'] ?? false,
  });
  print(report);
  return report.violations.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(
      `chaos run failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n${USAGE}\n`,
    );
    process.exit(2);
  },
);
