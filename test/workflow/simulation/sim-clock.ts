// The simulation's time scale. The plans speak of hours and minutes (TTLs of 1, 6 or 24 hours, time
// passing by minutes) as the service does; the dev server's clock is the machine's, so they run
// compressed. What the model relies on is only which TTLs a time step passes, so the compression
// need not be linear: model time maps monotonically onto real time through the points below, and
// each TTL the plans use is one of those points. A lane waits its time steps out for real, and a
// run lasts as long as its slowest lane, so a day must be seconds, not tens of seconds. TTLs are
// whole seconds (MIN_TTL_SECONDS is 1): one model hour is one real second, a day four.
const POINTS: readonly (readonly [modelMinutes: number, realMs: number])[] = [
  [0, 0],
  [60, 1_000],
  [6 * 60, 2_000],
  [24 * 60, 4_000],
];

/** Real milliseconds that stand for this many model minutes (beyond a day, at a day's rate). */
export function modelMinutesMs(minutes: number): number {
  for (let i = 1; i < POINTS.length; i++) {
    const [m0, r0] = POINTS[i - 1] as readonly [number, number];
    const [m1, r1] = POINTS[i] as readonly [number, number];
    if (minutes <= m1 || i === POINTS.length - 1)
      return Math.round(r0 + ((minutes - m0) * (r1 - r0)) / (m1 - m0));
  }
  return 0;
}

/** A TTL of this many model hours, in the register request's whole seconds. */
export function ttlSecondsOf(hours: number): number {
  return Math.max(1, Math.round(modelMinutesMs(hours * 60) / 1000));
}

/** Uses are recorded at most once a model minute (the API's 60 s, compressed). */
export const RECORD_EVERY_MS = modelMinutesMs(1);
