// A one-line progress display for anything that takes more than a moment. Only on a terminal and
// only on stderr, so stdout stays clean for pipes and `--json`.

export interface Progress {
  update(text: string): void;
  /** Clears the line. */
  stop(): void;
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
/** Quick answers show nothing at all. */
const SHOW_AFTER_MS = 400;
const TICK_MS = 100;

export interface ProgressStream {
  isTTY?: boolean;
  write(chunk: string): boolean;
}

export function startProgress(text: string, stream: ProgressStream = process.stderr): Progress {
  if (!stream.isTTY) return { update() {}, stop() {} };
  const started = Date.now();
  let current = text;
  let frame = 0;
  let shown = false;
  const draw = () => {
    const elapsed = Math.floor((Date.now() - started) / 1000);
    stream.write(`\r\x1b[2K${FRAMES[frame++ % FRAMES.length]} ${current} (${elapsed}s)`);
    shown = true;
  };
  const timer = setInterval(() => {
    if (Date.now() - started >= SHOW_AFTER_MS) draw();
  }, TICK_MS);
  timer.unref();
  return {
    update(next) {
      current = next;
    },
    stop() {
      clearInterval(timer);
      if (shown) stream.write('\r\x1b[2K');
    },
  };
}

/** Runs `fn` with a progress line that is cleared whatever happens. */
export async function withProgress<T>(
  text: string,
  fn: (progress: Progress) => Promise<T>,
  stream?: ProgressStream,
): Promise<T> {
  const progress = startProgress(text, stream);
  try {
    return await fn(progress);
  } finally {
    progress.stop();
  }
}
