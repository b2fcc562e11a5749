// Argument values both of the CLI's parsers check the same way: commander's (program.ts) and the
// fast path's (fast-args.ts), which must accept exactly what commander accepts, no more.

/** `--limit`: a positive integer as Number() reads it; undefined when it is not one. */
export function positiveIntOf(value: string): number | undefined {
  const n = Number(value);
  return Number.isInteger(n) && n >= 1 ? n : undefined;
}
