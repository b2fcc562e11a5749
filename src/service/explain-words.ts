// How explain's sentences spell times, sizes and lists. The reasons are part of the JSON answer, so
// they are made in the service layer; the CLI's tables spell durations with the same function.

/** "1h 5m", "40s": the two largest units. */
export function spellDuration(ms: number): string {
  const s = Math.round(Math.abs(ms) / 1000);
  const parts: Array<[number, string]> = [
    [Math.floor(s / 86_400), 'd'],
    [Math.floor((s % 86_400) / 3600), 'h'],
    [Math.floor((s % 3600) / 60), 'm'],
    [s % 60, 's'],
  ];
  const first = parts.findIndex(([n]) => n > 0);
  if (first === -1) return '0s';
  return parts
    .slice(first, first + 2)
    .filter(([n]) => n > 0)
    .map(([n, u]) => `${n}${u}`)
    .join(' ');
}

/** "2026-12-07T21:00:00.000Z (in 5m)" or "(... ago)". */
export function spellTime(iso: string, nowMs: number): string {
  const delta = Date.parse(iso) - nowMs;
  if (Number.isNaN(delta)) return iso;
  return `${iso} (${delta >= 0 ? `in ${spellDuration(delta)}` : `${spellDuration(delta)} ago`})`;
}

/** Decimal units, as the CLI's tables print sizes. */
export function spellBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(Math.abs(value) >= 100 ? 0 : 1)} ${units[unit]}`;
}

/** 1st, 2nd, 3rd, 11th, 22nd. */
export function ordinal(n: number): string {
  const teen = n % 100 >= 11 && n % 100 <= 13;
  const suffix = teen ? 'th' : (({ 1: 'st', 2: 'nd', 3: 'rd' } as Record<number, string>)[n % 10] ?? 'th');
  return `${n}${suffix}`;
}

/** At most `max` items, then how many more: a sentence stays a sentence for an image with 5,000 tags. */
export function spellList(items: readonly string[], max = 5): string {
  const shown = items.slice(0, max).join(', ');
  return items.length > max ? `${shown} and ${items.length - max} more` : shown;
}

/** `sha256:abc…` → the 12 hex digits `docker images` shows. */
export function shortId(imageId: string): string {
  return imageId.replace(/^sha256:/, '').slice(0, 12);
}
