// When the reconciler takes an orphan: once the image is older than the grace, at the first run of
// the host's reconcile schedule from then on. The grace is the one the schedule's runs are started
// with (the Docker worker's SNAPKEEPER_ORPHAN_GRACE, written into the schedule's input), not this
// process's: the CLI may run with another environment. Pure.
import type { ExplainScheduleFacts } from './explain-facts.js';

export interface Reaping {
  scheduleId: string | null;
  graceSeconds: number;
  /** Where the grace came from: the schedule's input, or this process's configuration (no schedule). */
  graceFrom: 'schedule' | 'configuration';
  /** The image's creation time plus the grace: from then on a run may remove it. */
  eligibleAt: string;
  /** The first scheduled run at or after eligibleAt (and now); null when no run is scheduled. */
  runAt: string | null;
  /** Why no run is known: no schedule, a paused one, or one that could not be read. */
  noRun: 'no-schedule' | 'paused' | 'unreadable' | 'no-next-run' | null;
}

export function reapingTime(
  createdAt: string,
  schedule: ExplainScheduleFacts | null,
  configGraceSeconds: number,
  nowMs: number,
): Reaping {
  const fromSchedule = schedule?.presence === 'found' && schedule.graceSeconds !== null;
  const graceSeconds = fromSchedule ? (schedule.graceSeconds as number) : configGraceSeconds;
  const eligibleMs = Date.parse(createdAt) + graceSeconds * 1000;
  const base = {
    scheduleId: schedule?.scheduleId ?? null,
    graceSeconds,
    graceFrom: fromSchedule ? ('schedule' as const) : ('configuration' as const),
    eligibleAt: new Date(eligibleMs).toISOString(),
  };
  if (!schedule || schedule.presence === 'not-found') return { ...base, runAt: null, noRun: 'no-schedule' };
  if (schedule.presence === 'error') return { ...base, runAt: null, noRun: 'unreadable' };
  if (schedule.paused) return { ...base, runAt: null, noRun: 'paused' };
  const from = Math.max(eligibleMs, nowMs);
  const runs = schedule.nextRuns.map((r) => Date.parse(r)).filter((t) => !Number.isNaN(t));
  runs.sort((a, b) => a - b);
  const listed = runs.find((t) => t >= from);
  if (listed !== undefined) return { ...base, runAt: new Date(listed).toISOString(), noRun: null };
  const last = runs[runs.length - 1];
  if (last === undefined || !schedule.intervalMs) return { ...base, runAt: null, noRun: 'no-next-run' };
  // Beyond the runs the server listed: an interval schedule runs every intervalMs from the last one.
  const steps = Math.ceil((from - last) / schedule.intervalMs);
  return { ...base, runAt: new Date(last + steps * schedule.intervalMs).toISOString(), noRun: null };
}
