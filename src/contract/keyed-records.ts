// Records keyed by input (project ids, image ids): a key like `constructor` or `toString` must not
// read what Object.prototype inherits. Records made here have no prototype; records that arrive
// through a payload (JSON, so with a prototype again) are read by their own keys only. Pure: bundled
// into workflows.

/** An empty record with no prototype: every key, whatever its name, starts absent. */
export function emptyRecord<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

/** A copy with no prototype of the own entries of `from` (a payload, a spread of another record). */
export function recordOf<T>(from: Record<string, T> | null | undefined): Record<string, T> {
  const out = emptyRecord<T>();
  if (from) for (const key of Object.keys(from)) out[key] = from[key] as T;
  return out;
}

/** The value `record` holds under `key` itself; never one inherited from a prototype. */
export function ownValue<T>(record: Record<string, T>, key: string): T | undefined {
  return Object.prototype.hasOwnProperty.call(record, key) ? record[key] : undefined;
}

/** Whether `record` holds `key` itself. */
export function hasOwn(record: object, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(record, key);
}

/**
 * A count record from a payload with only what can be a count: own keys with finite numbers. A run
 * from before the fix may carry a string there (an inherited function plus one).
 */
export function countsOf(from: Record<string, unknown> | null | undefined): Record<string, number> {
  const out = emptyRecord<number>();
  if (from) {
    for (const key of Object.keys(from)) {
      const v = from[key];
      if (typeof v === 'number' && Number.isFinite(v)) out[key] = v;
    }
  }
  return out;
}
