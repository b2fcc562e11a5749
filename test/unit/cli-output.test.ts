// The CLI's pure parts: tables, value formats, the progress display's terminal rule, and the exit
// codes of argument errors (which never reach Temporal).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { formatBytes, formatDuration, formatRelative, shortImageId } from '../../src/cli/format.js';
import { runCli } from '../../src/cli/program.js';
import { startProgress } from '../../src/cli/progress.js';
import { renderFields, renderTable } from '../../src/cli/table.js';

function capture(isTTY = false) {
  const chunks: string[] = [];
  return {
    isTTY,
    write(chunk: string) {
      chunks.push(chunk);
      return true;
    },
    text: () => chunks.join(''),
  };
}

describe('tables', () => {
  it('aligns columns, right-aligns numbers and keeps each row on one line', () => {
    const text = renderTable(
      [
        { header: 'NAME', value: (r: { name: string; n: number }) => r.name },
        { header: 'N', value: (r) => String(r.n), right: true },
      ],
      [
        { name: 'a', n: 5 },
        { name: 'long\nname', n: 1234 },
      ],
    );
    expect(text).toBe('NAME          N\na             5\nlong name  1234\n');
    expect(
      renderFields([
        ['state', 'active'],
        ['image id', 'sha256:x'],
      ]),
    ).toBe('state:    active\nimage id: sha256:x\n');
  });
});

describe('formats', () => {
  it('shows sizes, durations, relative times and short ids as docker does', () => {
    expect(formatBytes(999)).toBe('999 B');
    expect(formatBytes(734_003_200)).toBe('734 MB');
    expect(formatBytes(1_500_000_000)).toBe('1.5 GB');
    expect(formatBytes(null)).toBe('-');
    expect(formatDuration(0)).toBe('0s');
    expect(formatDuration(3_725_000)).toBe('1h 2m');
    expect(formatDuration(90_061_000)).toBe('1d 1h');
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(formatRelative('2026-01-01T03:05:00Z', now)).toBe('in 3h 5m');
    expect(formatRelative('2025-12-31T23:48:00Z', now)).toBe('12m ago');
    expect(formatRelative('', now)).toBe('-');
    expect(shortImageId(`sha256:${'ab'.repeat(32)}`)).toBe('abababababab');
  });
});

describe('progress', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('draws nothing when the stream is not a terminal', () => {
    const stream = capture(false);
    const progress = startProgress('working', stream);
    vi.advanceTimersByTime(5_000);
    progress.stop();
    expect(stream.text()).toBe('');
  });

  it('draws nothing for a quick answer on a terminal', () => {
    const stream = capture(true);
    const progress = startProgress('working', stream);
    vi.advanceTimersByTime(300);
    progress.stop();
    expect(stream.text()).toBe('');
  });

  it('draws on a terminal after a moment and clears its line at the end', () => {
    const stream = capture(true);
    const progress = startProgress('working', stream);
    vi.advanceTimersByTime(700);
    progress.update('still working');
    vi.advanceTimersByTime(1_500);
    progress.stop();
    expect(stream.text()).toContain('still working (2s)');
    expect(stream.text()).toContain('still working');
    expect(stream.text().endsWith('\r\x1b[2K')).toBe(true);
  });
});

describe('exit codes of argument errors', () => {
  it.each([
    [['ls', '--state', 'sleeping']],
    [['show', 'only-project']],
    [['reconcile', '--host', 'not a host']],
    [['drain-host', 'bad host!']],
    [['invalidate', 'p', 'w', '--timeout', 'soon']],
    [['frobnicate']],
  ])('snapkeeper %j exits 2 without contacting Temporal', async (args) => {
    const stdout = capture();
    const stderr = capture();
    const code = await runCli(['--address', '127.0.0.1:1', ...args], { stdout, stderr });
    expect(code).toBe(ExitCode.usage);
    expect(stderr.text()).toMatch(/error|invalid|not a/i);
  });

  it('--help exits 0 and documents the exit codes', async () => {
    const stdout = capture();
    const code = await runCli(['--help'], { stdout, stderr: capture() });
    expect(code).toBe(ExitCode.ok);
    expect(stdout.text()).toContain('Exit status: 0 ok');
    for (const command of ['ls', 'show', 'invalidate', 'reconcile', 'drain-host', 'doctor'])
      expect(stdout.text()).toContain(command);
  });
});
