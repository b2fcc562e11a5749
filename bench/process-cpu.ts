import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc's CPU times (`getconf CLK_TCK`: 100 on Linux here). */
const TICKS_PER_SECOND = 100;

/** User plus system CPU time of a process in milliseconds (/proc/<pid>/stat); NaN once it is gone. */
export function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces: fields are counted after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1000) / TICKS_PER_SECOND;
  } catch {
    return Number.NaN;
  }
}

/** The CPU time each named process has used so far, in milliseconds. */
export function cpuSnapshot(pids: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuMs(pid)]));
}

/** CPU milliseconds per operation each process spent between two snapshots. */
export function cpuPerOperation(
  from: Record<string, number>,
  to: Record<string, number>,
  operations: number,
): Record<string, number> {
  return Object.fromEntries(
    Object.keys(from).map((name) => [
      name,
      Math.round((((to[name] ?? Number.NaN) - (from[name] ?? Number.NaN)) / operations) * 100) / 100,
    ]),
  );
}
