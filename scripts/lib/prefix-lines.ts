import type { OutputStream } from './managed-child.js';

const PINO_LEVELS: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};
// Shown elsewhere on the line, or the same on every line.
const OMITTED = new Set(['level', 'msg', 'time', 'pid', 'hostname', 'name']);
const COLORS = ['36', '35', '33', '32', '34', '31'];

/**
 * A printer for one child's output: every line gets the child's name in front, and pino JSON lines
 * are shortened to `LEVEL msg {rest}` so that three processes sharing one terminal stay readable.
 */
export function prefixLines(
  name: string,
  index: number,
  width = 8,
): (line: string, stream: OutputStream) => void {
  const color = process.stdout.isTTY ? COLORS[index % COLORS.length] : undefined;
  const label = name.padEnd(width);
  const prefix = color ? `\u001b[${color}m${label}\u001b[0m│ ` : `${label}│ `;
  return (line, stream) => {
    const out = stream === 'stderr' ? process.stderr : process.stdout;
    out.write(`${prefix}${formatPino(line)}\n`);
  };
}

function formatPino(line: string): string {
  if (!line.startsWith('{')) return line;
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return line;
  }
  if (typeof parsed !== 'object' || parsed === null || !('msg' in parsed)) return line;
  const record = parsed as Record<string, unknown>;
  const { level, msg } = record;
  const rest = Object.fromEntries(Object.entries(record).filter(([key]) => !OMITTED.has(key)));
  const levelName = typeof level === 'number' ? (PINO_LEVELS[level] ?? String(level)) : String(level ?? '');
  const extra = Object.keys(rest).length > 0 ? ` ${JSON.stringify(rest)}` : '';
  return `${levelName.padEnd(5)} ${String(msg)}${extra}`;
}
