// Durations as configuration and the CLI write them ("30s", "5m", "24h"). A module of its own, with
// no imports, so the CLI can check a flag's value without loading the configuration schema.

const DURATION = /^(\d+)(ms|s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "90s", "5m", "24h" → milliseconds. */
export function parseDuration(text: string): number {
  const m = DURATION.exec(text.trim());
  if (!m) throw new Error(`"${text}" is not a duration like 30s, 5m, 24h`);
  return Number(m[1]) * (UNIT_MS[m[2] as string] as number);
}
