import { readFile } from 'node:fs/promises';

/** Resident set size of a process in MiB (VmRSS of /proc/<pid>/status); NaN once it is gone. */
export async function rssMiB(pid: number): Promise<number> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
    return kb ? Number(kb) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** Samples the RSS of some processes every `intervalMs` until stopped: [seconds since start, MiB]. */
export function sampleRss(pids: Record<string, number>, intervalMs = 1000) {
  const started = Date.now();
  const series: Record<string, Array<[number, number]>> = Object.fromEntries(
    Object.keys(pids).map((name) => [name, []]),
  );
  const tick = async () => {
    const at = (Date.now() - started) / 1000;
    for (const [name, pid] of Object.entries(pids)) {
      const mib = await rssMiB(pid);
      if (Number.isFinite(mib)) series[name]!.push([Number(at.toFixed(1)), Number(mib.toFixed(1))]);
    }
  };
  const timer = setInterval(() => void tick(), intervalMs);
  void tick();
  return {
    series,
    stop: () => clearInterval(timer),
    /** Now, on the series' clock (seconds since sampling started). */
    at: () => (Date.now() - started) / 1000,
    max: (name: string) => Math.max(...(series[name] ?? []).map(([, v]) => v)),
  };
}
