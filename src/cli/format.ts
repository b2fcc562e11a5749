// How values read in the CLI's tables.
import { spellDuration } from '../service/explain-words.js';

export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return '-';
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(value >= 100 ? 0 : 1)} ${units[unit]}`;
}

/** "in 3h 5m", "12m ago": a time relative to now, to the two largest units. */
export function formatRelative(iso: string | null | undefined, now: number = Date.now()): string {
  if (!iso) return '-';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '-';
  const delta = t - now;
  const text = formatDuration(Math.abs(delta));
  return delta >= 0 ? `in ${text}` : `${text} ago`;
}

/** "1h 5m", "40s": the two largest units, spelled as explain's reasons spell them. */
export function formatDuration(ms: number): string {
  return spellDuration(ms);
}

/** The image id as `docker images` shows it. */
export function shortImageId(imageId: string | null | undefined): string {
  if (!imageId) return '-';
  return imageId.replace(/^sha256:/, '').slice(0, 12);
}
